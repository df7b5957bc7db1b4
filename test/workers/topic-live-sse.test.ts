// Server-Sent Events: ids are offsets, Last-Event-ID resumes (and wins over from), gaps,
// heartbeats, a bounded lifetime, subscriber counts and bad input; with streams served by
// their partition and by relays (topic-live-modes.ts).
import { describe, expect, it } from "vitest";
import { errorCode, uniqueName } from "./helpers";
import { fireAlarm, publishOk, putTopic, topicStatus } from "./topic-log-helpers";
import { events, SseReader } from "./topic-live-helpers";
import { LIVE_MODES, useLiveMode } from "./topic-live-modes";

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
const bodies = (n: number, tag = "m"): { body: string }[] => range(0, n).map((i) => ({ body: `${tag}${i}` }));

async function open(topic: string, query = "", headers: Record<string, string> = {}): Promise<SseReader> {
  const res = await events(topic, query, headers);
  if (res.status !== 200) throw new Error(`events failed: ${res.status} ${await res.text()}`);
  expect(res.headers.get("content-type")).toContain("text/event-stream");
  return new SseReader(res);
}

describe.each(LIVE_MODES)("live events (SSE, $name)", (mode) => {
  useLiveMode(mode);

  it("sse - each event's id is its offset and its data the message; history then live", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(3));
    const sse = await open(t, "from=earliest");
    await sse.until(() => sse.messages().length >= 3);
    await publishOk(t, [{ body: { n: 1 }, key: "k", headers: { a: "b" } }]);
    await sse.until(() => sse.messages().length >= 4);
    const got = sse.messages();
    expect(got.map((m) => m.id)).toEqual(["0", "1", "2", "3"]);
    expect(got.map((m) => m.data.offset)).toEqual([0, 1, 2, 3]);
    expect(got[3]!.data).toMatchObject({ partition: 0, offset: 3, key: "k", body: { n: 1 }, headers: { a: "b" } });
    expect(Object.keys(got[3]!.data)).toEqual(["partition", "offset", "id", "key", "body", "headers", "timestamp"]);
    await sse.cancel();
  });

  it("sse - from defaults to latest", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(2));
    const sse = await open(t);
    await publishOk(t, bodies(1, "new"));
    await sse.until(() => sse.messages().length >= 1);
    expect(sse.messages().map((m) => m.id)).toEqual(["2"]);
    await sse.cancel();
  });

  it("sse - Last-Event-ID resumes after that offset and wins over from", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(8));
    const sse = await open(t, "from=earliest", { "last-event-id": "4" });
    await sse.until(() => sse.messages().length >= 3);
    expect(sse.messages().map((m) => m.id)).toEqual(["5", "6", "7"]);
    await sse.cancel();
    // The id of the last event, as EventSource would send it on reconnect, misses nothing.
    const again = await open(t, "from=latest", { "last-event-id": "7" });
    await publishOk(t, bodies(2, "after"));
    await again.until(() => again.messages().length >= 2);
    expect(again.messages().map((m) => m.id)).toEqual(["8", "9"]);
    await again.cancel();
  });

  it("sse - a gap event when the start is below the first kept offset", async () => {
    const t = uniqueName();
    await putTopic(t, { retentionBytes: 60 });
    await publishOk(t, range(0, 10).map((i) => ({ body: `message-${i}-padding` })));
    await fireAlarm(t);
    const first = (await topicStatus(t)).body.partitions[0].first as number;
    expect(first).toBeGreaterThan(0);
    const sse = await open(t, "from=0");
    await sse.until(() => sse.messages().length >= 10 - first);
    const gap = sse.events.find((e) => e.event === "gap")!;
    expect(JSON.parse(gap.data!)).toEqual({ from: 0, to: first });
    expect(gap.id).toBeUndefined();
    expect(sse.messages().map((m) => Number(m.id))).toEqual(range(first, 10));
    await sse.cancel();
  });

  it("sse - an idle stream sends comment heartbeats", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(1));
    await mode.inHub(t, (hub) => {
      hub.sse.heartbeatMs = 5;
    });
    const sse = await open(t);
    await sse.until(() => sse.events.some((e) => e.comment === "heartbeat"));
    expect(sse.events.filter((e) => e.comment === "heartbeat").length).toBeGreaterThan(0);
    expect(sse.messages()).toEqual([]);
    await sse.cancel();
  });

  it("sse - a stream ends after its lifetime, having asked EventSource to reconnect quickly", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(2));
    await mode.inHub(t, (hub) => {
      hub.sse.lifetimeMs = 0;
    });
    const res = await events(t, "from=earliest");
    const text = await res.text(); // returns only because the stream ended
    expect(text).toContain("retry: ");
    expect(await mode.inHub(t, (hub) => hub.count())).toBe(0);
  });

  it("sse - open streams count as subscribers in GET /v1/topics/{t}", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(1));
    const a = await open(t);
    const b = await open(t);
    await a.until(() => a.events.length > 0);
    await b.until(() => b.events.length > 0);
    expect((await topicStatus(t)).body.partitions[0].subscribers).toBe(2);
    await a.cancel();
    await b.cancel();
  });

  it("sse - deleting the topic ends its streams", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(1));
    const sse = await open(t);
    await sse.until(() => sse.events.length > 0);
    const { callJson } = await import("./helpers");
    expect((await callJson("DELETE", `/v1/topics/${t}`)).status).toBe(204);
    await sse.until(() => false);
    expect(sse.done).toBe(true);
  });

  it("sse - bad from, a bad Last-Event-ID, an unknown partition and a missing topic get their codes", async () => {
    const t = uniqueName();
    await publishOk(t, bodies(2));
    const cases: [string, string, Record<string, string>, number, string][] = [
      [t, "from=later", {}, 400, "VALIDATION_FAILED"],
      [t, "from=50", {}, 400, "VALIDATION_FAILED"],
      [t, "", { "last-event-id": "abc" }, 400, "VALIDATION_FAILED"],
      [t, "", { "last-event-id": "99" }, 400, "VALIDATION_FAILED"],
      [t, "partition=1", {}, 400, "VALIDATION_FAILED"],
      [uniqueName("none"), "", {}, 404, "NOT_FOUND"],
    ];
    for (const [topic, query, headers, status, code] of cases) {
      const res = await events(topic, query, headers);
      expect(res.status, `${query} ${JSON.stringify(headers)}`).toBe(status);
      expect(errorCode(await res.json())).toBe(code);
    }
    expect((await topicStatus(t)).body.partitions[0].subscribers).toBe(0);
  });
});
