/**
 * The app's own tests, with spool/testing: Spool runs in-process (Miniflare, no wrangler dev)
 * beside the app's Worker, which binds it as wrangler.toml does; `advanceTime` moves Spool's
 * clock, so a 30 s lease expires without waiting 30 s.
 */
import { build } from "esbuild";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startSpool, type SpoolTestServer } from "spool/testing";

let spool: SpoolTestServer;
let app = "";

const post = async (path: string, body?: unknown): Promise<any> => {
  const res = await fetch(`${app}${path}`, { method: "POST", body: body === undefined ? undefined : JSON.stringify(body) });
  expect(res.ok).toBe(true);
  return res.json();
};

beforeAll(async () => {
  // Bundle the Worker as wrangler would, then run it beside Spool with the binding of wrangler.toml.
  await build({
    entryPoints: ["src/worker.ts"], outfile: "dist/worker.mjs", bundle: true, format: "esm", platform: "neutral",
    conditions: ["workerd", "worker", "browser"], mainFields: ["browser", "module", "main"], logLevel: "warning",
  });
  spool = await startSpool({
    workers: [{
      name: "jobs-app", modules: true, scriptPath: "dist/worker.mjs", compatibilityDate: "2026-11-01",
      serviceBindings: { SPOOL: { name: "spool", entrypoint: "SpoolEntrypoint" } },
    }],
  });
  app = await spool.workerUrl("jobs-app");
}, 60_000);

afterAll(async () => {
  await spool?.[Symbol.asyncDispose]();
});

beforeEach(async () => {
  await spool.reset();
});

describe("jobs app", () => {
  it("enqueues jobs on fetch and a Cloudflare Queues handler consumes them", async () => {
    for (const task of ["resize", "crop", "upload"]) await post("/jobs", { task });
    expect(await post("/jobs/run")).toMatchObject({ batches: 1, acked: 3, retried: 0, error: null });
    expect((await spool.client.queue("jobs").info()).stats.messages).toBe(0);
    const { messages } = await spool.client.topic("results").read({ from: 0 });
    expect(messages.map((m) => m.body)).toEqual([
      { task: "resize", attempts: 1 }, { task: "crop", attempts: 1 }, { task: "upload", attempts: 1 },
    ]);
  });

  it("retries a failing job and dead-letters it after maxRetries", async () => {
    await post("/jobs", { task: "fail" });
    expect(await post("/jobs/run")).toMatchObject({ batches: 3, acked: 0, retried: 3 });
    const [letter] = await spool.client.queue("jobs.dlq").peek();
    expect(letter).toMatchObject({ body: { task: "fail" }, attempts: 3 });
  });

  it("follows results live through the binding", async () => {
    await spool.client.topic("results").configure({});
    const watching = fetch(`${app}/results?n=2&from=earliest`).then((r) => r.json());
    await post("/jobs", { task: "a" });
    await post("/jobs", { task: "b" });
    await post("/jobs/run");
    expect(await watching).toEqual([{ task: "a", attempts: 1 }, { task: "b", attempts: 1 }]);
  });

  it("redelivers the job of a crashed worker once its 30 s lease expires, in well under a second", async () => {
    await post("/jobs", { task: "resize" });
    expect(await post("/jobs/claim")).toEqual({ claimed: "resize" }); // leased for 30 s, never acked
    expect(await post("/jobs/run")).toMatchObject({ batches: 0 });
    const started = Date.now();
    await spool.advanceTime(30_000);
    expect(await post("/jobs/run")).toMatchObject({ batches: 1, acked: 1 });
    const elapsed = Date.now() - started;
    console.log(`a 30 s lease expired and the job ran again in ${elapsed} ms`);
    expect(elapsed).toBeLessThan(10_000); // nobody waited the 30 s
    const { messages } = await spool.client.topic("results").read({ from: 0 });
    expect(messages.map((m) => m.body)).toEqual([{ task: "resize", attempts: 2 }]);
  });
});
