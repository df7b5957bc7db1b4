// MQTT delivery state and SQLite (durable-objects/mqtt/delivery.ts): a clean session keeps
// its positions and QoS 1 deliveries in flight in memory (no write per message, which would
// hold every outgoing frame behind a commit), a persistent one writes them at a checkpoint
// every ACK_EVERY_MESSAGES per partition, and hands over exactly what memory holds when it
// is taken over or the client goes away: the next connection loses nothing.
import { env } from "cloudflare:workers";
import { listDurableObjectIds, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ACK_EVERY_MESSAGES } from "../../durable-objects/mqtt/delivery";
import { callJson, uniqueName } from "./helpers";
import { DISCONNECT, pubackPacket, RawMqtt, settled, subscribePacket, T, type ConnectOptions, type ServerPacket } from "./mqtt-helpers";

const text = (b?: Uint8Array) => new TextDecoder().decode(b);

/** Opens a connection and answers the connection object it landed on. */
async function connectTracked(o: ConnectOptions): Promise<{ c: RawMqtt; connack: ServerPacket; stub: DurableObjectStub }> {
  const ids = async () => new Set((await listDurableObjectIds(env.MQTT_CONNECTIONS)).map((id) => id.toString()));
  const before = await ids();
  const { c, connack } = await RawMqtt.connect(o);
  const id = [...(await ids())].find((x) => !before.has(x))!;
  return { c, connack, stub: env.MQTT_CONNECTIONS.get(env.MQTT_CONNECTIONS.idFromString(id)) };
}

/** What the connection's SQLite holds of its delivery state. */
async function stored(stub: DurableObjectStub): Promise<{ positions: number[]; inflight: number[] }> {
  return runInDurableObject(stub, (_instance, state) => ({
    positions: state.storage.sql.exec<{ next: number }>("SELECT next FROM mqtt_feeds ORDER BY partition").toArray().map((r) => r.next),
    inflight: state.storage.sql.exec<{ packet_id: number }>("SELECT packet_id FROM mqtt_inflight ORDER BY seq").toArray().map((r) => r.packet_id),
  }));
}

async function publish(t: string, bodies: string[]): Promise<void> {
  const res = await callJson("POST", `/v1/topics/${t}/messages`, { body: { messages: bodies.map((body) => ({ body, key: `${t}/a` })) } });
  expect(res.status).toBeLessThan(300);
}

describe("mqtt delivery state", () => {
  it("mqtt delivery - a clean session's deliveries write nothing to SQLite per message (positions, QoS 1 in flight)", async () => {
    const t = uniqueName("mq");
    await callJson("PUT", `/v1/topics/${t}`, { body: { partitions: 1 } });
    const { c, stub } = await connectTracked({ clientId: uniqueName("clean") });
    c.send(subscribePacket([`${t}/#`], 1));
    await c.next((p) => p.type === T.SUBACK);
    const atSubscribe = await stored(stub);
    expect(atSubscribe.inflight).toEqual([]);

    // More than a checkpoint's worth, acknowledged as they come, the last three left unacknowledged.
    const count = ACK_EVERY_MESSAGES + 20;
    await publish(t, Array.from({ length: count }, (_, i) => `m${i}`));
    const got: ServerPacket[] = [];
    for (let i = 0; i < count; i++) {
      const d = await c.next((p) => p.type === T.PUBLISH);
      got.push(d);
      if (i < count - 3) c.send(pubackPacket(d.packetId!));
    }
    expect(got.map((d) => text(d.payload))).toEqual(Array.from({ length: count }, (_, i) => `m${i}`));
    await settled(c);
    // The store still holds the position of SUBSCRIBE and no packet in flight: all of it was memory.
    expect(await stored(stub)).toEqual(atSubscribe);
    c.close();
  });

  it("mqtt delivery - a persistent session checkpoints per ACK_EVERY_MESSAGES, and a takeover then a reconnect lose nothing", async () => {
    const t = uniqueName("mq");
    await callJson("PUT", `/v1/topics/${t}`, { body: { partitions: 1 } });
    const clientId = uniqueName("keep");
    const first = await connectTracked({ clientId, clean: false });
    first.c.send(subscribePacket([`${t}/#`], 1));
    await first.c.next((p) => p.type === T.SUBACK);
    const start = (await stored(first.stub)).positions[0]!;

    const count = ACK_EVERY_MESSAGES + 10;
    await publish(t, Array.from({ length: count }, (_, i) => `m${i}`));
    const firstGot: ServerPacket[] = [];
    for (let i = 0; i < count; i++) {
      const d = await first.c.next((p) => p.type === T.PUBLISH);
      firstGot.push(d);
      if (i < count - 2) first.c.send(pubackPacket(d.packetId!)); // the last two stay unacknowledged
    }
    await settled(first.c);
    // Written at the checkpoint (the 100th message), not since: the store is behind memory.
    const checkpoint = await stored(first.stub);
    expect(checkpoint.positions[0]).toBe(start + ACK_EVERY_MESSAGES);
    expect(checkpoint.inflight).not.toContain(firstGot.at(-1)!.packetId);

    // A takeover hands over what memory holds: the two unacknowledged ones come again with DUP.
    const second = await connectTracked({ clientId, clean: false });
    expect(second.connack).toMatchObject({ code: 0, sessionPresent: true });
    await first.c.waitClosed();
    const resent = [await second.c.next((p) => p.type === T.PUBLISH), await second.c.next((p) => p.type === T.PUBLISH)];
    expect(resent.map((d) => [d.packetId, text(d.payload), d.flags & 0x08])).toEqual(
      firstGot.slice(-2).map((d) => [d.packetId, text(d.payload), 0x08]),
    );
    for (const d of resent) second.c.send(pubackPacket(d.packetId!));
    await settled(second.c);
    expect(second.c.packets.filter((p) => p.type === T.PUBLISH)).toEqual([]); // nothing acknowledged comes again

    // Published while nobody holds the session, after the client went away: delivered on reconnect, in order.
    await publish(t, ["n0", "n1"]);
    const n0 = await second.c.next((p) => p.type === T.PUBLISH);
    second.c.send(pubackPacket(n0.packetId!));
    await settled(second.c);
    second.c.send(DISCONNECT);
    await second.c.waitClosed();
    await publish(t, ["n2", "n3"]);
    const third = await connectTracked({ clientId, clean: false });
    expect(third.connack).toMatchObject({ code: 0, sessionPresent: true });
    const later: string[] = [];
    for (let i = 0; i < 3; i++) {
      const d = await third.c.next((p) => p.type === T.PUBLISH);
      later.push(text(d.payload));
      third.c.send(pubackPacket(d.packetId!));
    }
    expect(later).toEqual(["n1", "n2", "n3"]);
    await settled(third.c);
    expect(third.c.packets.filter((p) => p.type === T.PUBLISH)).toEqual([]);
    third.c.close();
  });
});
