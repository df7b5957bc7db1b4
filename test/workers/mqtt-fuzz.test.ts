// Property-based fuzzing of MQTT input: the codec never throws anything but its own
// MalformedPacket on any bytes, and a connection fed random frames (junk, truncated and
// mutated packets, split anywhere) either keeps working (a final PINGREQ is answered) or
// is closed; the server never crashes and serves the next connection.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodePacket, splitPackets } from "../../durable-objects/mqtt/codec";
import { MalformedPacket } from "../../durable-objects/mqtt/reasons";
import { uniqueName } from "./helpers";
import { PINGREQ, publishPacket, RawMqtt, subscribePacket, T } from "./mqtt-helpers";

const RUNS = 30;

/** Valid packets of both versions, to mutate. */
const seeds = [
  publishPacket("fz/a", "x", 0), publishPacket("fz/a/b", "payload", 1, 3), publishPacket("fz/r", "r", 1, 4, 5, true),
  subscribePacket(["fz/+"], 1, 5), subscribePacket(["fz/#", "+/x"], 2, 6, 5), new Uint8Array([0xc0, 0x00]),
  new Uint8Array([0x40, 0x02, 0x00, 0x09]), new Uint8Array([0xa2, 0x07, 0x00, 0x0a, 0x00, 0x03, 0x66, 0x7a, 0x2f]),
];

const mutated = fc.tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat())
  .map(([seed, edits, cut]) => {
    const out = seed.slice();
    for (const [at, value] of edits) out[at % out.length] = value;
    return out.subarray(0, Math.max(1, out.length - (cut % 3)));
  });

const frameArb = fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 64 }), mutated, fc.constantFrom(...seeds));

describe("fuzz - mqtt", () => {
  it("fuzz mqtt - the codec refuses any bytes with MalformedPacket or decodes them, never anything else", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(null, 4 as const, 5 as const), (raw, version) => {
      const split = splitPackets(new Uint8Array(0), raw, 1024);
      if (!split.ok) return;
      for (const p of split.packets) {
        try {
          decodePacket(p, version);
        } catch (err) {
          expect(err).toBeInstanceOf(MalformedPacket);
        }
      }
    }), { numRuns: 2000 });
    fc.assert(fc.property(mutated, fc.constantFrom(4 as const, 5 as const), (raw, version) => {
      try {
        decodePacket(raw, version);
      } catch (err) {
        expect(err).toBeInstanceOf(MalformedPacket);
      }
    }), { numRuns: 2000 });
  });

  it("fuzz mqtt - random frames on a connection: answered or closed, never a crash", async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(4 as const, 5 as const), fc.array(frameArb, { maxLength: 8 }), fc.nat(), async (version, frames, splitAt) => {
      const { c, connack } = await RawMqtt.connect({ version, clientId: uniqueName("fz") });
      expect(connack.code).toBe(0);
      const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
      let at = 0;
      for (const f of frames) {
        stream.set(f, at);
        at += f.length;
      }
      // Sent as two frames split at an arbitrary point: packets straddle frames.
      const cut = stream.length === 0 ? 0 : splitAt % stream.length;
      if (cut > 0) c.send(stream.subarray(0, cut));
      if (cut < stream.length) c.send(stream.subarray(cut));
      c.send(PINGREQ);
      try {
        await c.next((p) => p.type === T.PINGRESP, 400);
      } catch {
        // Closed (or left waiting for the rest of a packet whose length swallowed the PINGREQ): both are allowed.
        expect(c.closed !== null || c.packets.every((p) => p.type !== T.PINGRESP)).toBe(true);
      }
      c.close();
    }), { numRuns: RUNS });
    const { connack } = await RawMqtt.connect({ clientId: uniqueName("after") });
    expect(connack.code).toBe(0);
  }, 120_000);
});
