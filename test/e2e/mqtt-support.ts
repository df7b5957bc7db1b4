/** Helpers for the MQTT e2e tests: real, unmodified mqtt.js clients against the local server. */
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";

export interface Received {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
  dup: boolean;
  properties?: Record<string, unknown>;
}

/** The `/v1/mqtt` URL of a server (`http://…` → `ws://…/v1/mqtt`). */
export function mqttUrl(base: string, query = ""): string {
  return `${base.replace(/^http/, "ws")}/v1/mqtt${query}`;
}

/** Connects mqtt.js (no automatic reconnect) and collects what it receives. */
export async function connect(base: string, options: IClientOptions): Promise<{ client: MqttClient; received: Received[]; connack: mqtt.IConnackPacket }> {
  const received: Received[] = [];
  const client = mqtt.connect(mqttUrl(base), { reconnectPeriod: 0, connectTimeout: 10_000, ...options });
  client.on("message", (topic, payload, packet) => {
    received.push({ topic, payload, qos: packet.qos, retain: packet.retain, dup: packet.dup, properties: packet.properties as Record<string, unknown> | undefined });
  });
  const connack = await new Promise<mqtt.IConnackPacket>((resolve, reject) => {
    client.once("connect", resolve);
    client.once("error", reject);
    client.once("close", () => reject(new Error("closed before CONNACK")));
  });
  return { client, received, connack };
}

/** Resolves when `check` holds, polling; fails with `what` after `ms`. */
export async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Ends a client without DISCONNECT: the socket just drops (the will is due). */
export function dropConnection(client: MqttClient): void {
  (client.stream as unknown as { destroy(): void }).destroy();
  client.end(true);
}

export async function close(client: MqttClient): Promise<void> {
  await client.endAsync();
}

/** The SUBACK codes of one SUBSCRIBE, read off the packet (mqtt.js turns any failure into an error). */
export async function subackCodes(client: MqttClient, filters: string[], qos: 0 | 1 | 2 = 1): Promise<number[]> {
  const suback = new Promise<number[]>((resolve) => {
    const onPacket = (p: mqtt.Packet) => {
      if (p.cmd !== "suback") return;
      client.off("packetreceive", onPacket);
      resolve((p as unknown as { granted: number[] }).granted);
    };
    client.on("packetreceive", onPacket);
  });
  client.subscribe(filters, { qos }, () => undefined);
  return suback;
}
