// A second MQTT client library, unmodified: Eclipse Paho's JavaScript client (a browser
// library; Node 22's global WebSocket runs it) for a basic round trip with MQTT 3.1.1 and
// the older MQTT 3.1 (`MQIsdp`, subprotocol `mqttv3.1`).
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { adminKey, unique, url } from "./helpers";
import { mqttUrl, until } from "./mqtt-support";

interface PahoMessage {
  destinationName: string;
  payloadString: string;
  qos: number;
}
interface PahoClient {
  onMessageArrived: (m: PahoMessage) => void;
  connect(o: Record<string, unknown>): void;
  subscribe(filter: string, o: Record<string, unknown>): void;
  send(topic: string, payload: string, qos: number, retained: boolean): void;
  disconnect(): void;
}
interface Paho {
  Client: new (uri: string, clientId: string) => PahoClient;
}

const paho = createRequire(import.meta.url)("paho-mqtt") as Paho;

describe("paho", () => {
  it.each([4, 3])("mqtt paho - MQTT %i: connect with the admin key, subscribe with a wildcard, publish, receive", async (mqttVersion) => {
    const t = unique("paho");
    const client = new paho.Client(mqttUrl(url()), unique("paho"));
    const received: PahoMessage[] = [];
    client.onMessageArrived = (m) => received.push(m);
    await new Promise<void>((resolve, reject) => client.connect({
      userName: "paho", password: adminKey(), mqttVersion, timeout: 10, onSuccess: () => resolve(), onFailure: (e: unknown) => reject(new Error(JSON.stringify(e))),
    }));
    await new Promise<void>((resolve, reject) => client.subscribe(`${t}/+/x`, { qos: 1, onSuccess: () => resolve(), onFailure: () => reject(new Error("suback")) }));
    client.send(`${t}/a/x`, "from paho", 1, false);
    await until(() => received.length === 1, "paho's own message");
    expect(received[0]).toMatchObject({ destinationName: `${t}/a/x`, payloadString: "from paho", qos: 1 });
    client.disconnect();
  });
});
