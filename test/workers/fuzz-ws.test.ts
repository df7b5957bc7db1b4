// Property-based fuzzing of WebSocket frames on /consume and /subscribe: random sequences
// of JSON, junk and binary frames. The server only ever answers with frames of the
// documented types (error frames with a known code) or closes with a documented code; a
// subscribe-only socket never publishes; and the seeded store is unchanged afterwards.
import { env, exports } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { CloseCodes } from "../../durable-objects/shared/socket-limits";
import { mintToken } from "../../worker/tokens";
import { frameish, KNOWN_CODES } from "./fuzz-arbitraries";
import { seedStore, snapshot, type Seeded } from "./fuzz-store";
import { ADMIN_KEY, BASE, callJson, uniqueName } from "./helpers";

const RUNS = 60;
const CLOSE_CODES = new Set<number>(Object.values(CloseCodes));

interface Outcome {
  frames: Array<Record<string, unknown>>;
  /** Frames that were not JSON objects with a string `type`. */
  malformed: string[];
  closedBy: number | null;
}

/**
 * Opens the socket, sends the frames and then `probe`, and resolves once the server has
 * sent `replies` frames matching `isProbeReply` (the probe's answer is the last) or closed
 * the socket; frames on one socket are handled in order, so by then every fuzz frame has
 * been handled.
 */
async function exchange(path: string, auth: string, frames: Array<string | ArrayBuffer>, probe: string, isProbeReply: (f: Record<string, unknown>) => boolean, replies = 1): Promise<Outcome> {
  const res = await exports.default.fetch(new Request(`${BASE}${path}`, { headers: { upgrade: "websocket", authorization: `Bearer ${auth}` } }));
  const ws = res.webSocket;
  if (!ws) throw new Error(`no upgrade: ${res.status} ${await res.text()}`);
  ws.accept();
  const outcome: Outcome = { frames: [], malformed: [], closedBy: null };
  const done = new Promise<void>((ok) => {
    ws.addEventListener("message", (e) => {
      try {
        const f = JSON.parse(e.data as string) as unknown;
        if (typeof f !== "object" || f === null || Array.isArray(f) || typeof (f as { type?: unknown }).type !== "string") throw new Error();
        outcome.frames.push(f as Record<string, unknown>);
        if (isProbeReply(f as Record<string, unknown>) && --replies === 0) ok();
      } catch {
        outcome.malformed.push(String(e.data).slice(0, 200));
      }
    });
    ws.addEventListener("close", (e) => {
      outcome.closedBy = e.code;
      ok();
    });
  });
  for (const f of frames) ws.send(f);
  ws.send(probe);
  await done;
  if (outcome.closedBy === null) ws.close(1000, "fuzz done");
  return outcome;
}

function checkOutcome(o: Outcome, allowedTypes: string[]): void {
  expect(o.malformed).toEqual([]);
  for (const f of o.frames) {
    expect(allowedTypes, JSON.stringify(f).slice(0, 200)).toContain(f.type);
    if (f.type === "error") {
      expect(KNOWN_CODES.has(String(f.code)), JSON.stringify(f)).toBe(true);
      expect(typeof f.message).toBe("string");
    }
  }
  if (o.closedBy !== null) expect(CLOSE_CODES.has(o.closedBy), `close code ${o.closedBy}`).toBe(true);
}

function isPublishFrame(text: string): boolean {
  try {
    const f = JSON.parse(text) as { type?: unknown } | null;
    return typeof f === "object" && f !== null && !Array.isArray(f) && f.type === "publish";
  } catch {
    return false;
  }
}

describe("fuzz - websocket frames", () => {
  let seed: Seeded;
  let before: unknown;

  beforeAll(async () => {
    seed = await seedStore();
    before = await snapshot(seed);
  });

  it("fuzz - random frames on a /consume socket get only documented frames or close codes, and lose no message", async () => {
    const q = uniqueName("fzws");
    await callJson("POST", `/v1/queues/${q}/messages`, { body: { messages: Array.from({ length: 5 }, (_, i) => ({ body: i })) } });
    const token = (await mintToken(env, { [`queues/${q}`]: ["receive"] }, 600)).token;
    await fc.assert(
      fc.asyncProperty(fc.array(frameish([q, "fz-a"]), { minLength: 1, maxLength: 12 }), fc.boolean(), async (frames, admin) => {
        const probeId = crypto.randomUUID();
        const outcome = await exchange(`/v1/queues/${q}/consume`, admin ? ADMIN_KEY : token, frames,
          JSON.stringify({ type: "ack", receipts: [probeId] }),
          (f) => f.type === "result" && JSON.stringify(f.failed ?? []).includes(probeId));
        checkOutcome(outcome, ["message", "result", "error"]);
      }),
      { numRuns: RUNS },
    );
    // Random receipts never ack anything: every message is still there.
    expect((await callJson("GET", `/v1/queues/${q}`)).body.stats.messages).toBe(5);
    expect(await snapshot(seed)).toEqual(before);
  });

  it("fuzz - random frames on a subscribe-only /subscribe socket never publish, and the topic is unchanged", async () => {
    const token = (await mintToken(env, { [`topics/${seed.t}`]: ["subscribe"] }, 600)).token;
    await fc.assert(
      fc.asyncProperty(fc.array(frameish([seed.t, "fz-a"]), { minLength: 1, maxLength: 12 }), fc.constantFrom("earliest", "latest"), async (frames, from) => {
        // A publish frame is the probe. Every publish frame is refused with FORBIDDEN, so the
        // probe's answer is the FORBIDDEN after those of the fuzz frames that are publishes.
        const publishes = frames.filter((f) => typeof f === "string" && isPublishFrame(f)).length;
        const outcome = await exchange(`/v1/topics/${seed.t}/subscribe?from=${from}`, token, frames,
          JSON.stringify({ type: "publish", messages: [{ body: "probe" }] }),
          (f) => f.type === "error" && f.code === "FORBIDDEN", publishes + 1);
        checkOutcome(outcome, ["message", "gap", "error"]);
      }),
      { numRuns: RUNS },
    );
    expect(await snapshot(seed)).toEqual(before);
  });
});
