// The Durable Streams protocol at /v1/stream, judged by the protocol's published server
// conformance suite (@durable-streams/server-conformance-tests, pinned, run unmodified):
// every test must pass against Spool. The same run judges the protocol's reference server
// (@durable-streams/server) for comparison, and prints where the two differ.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalServer } from "./server";
import {
  removeState, runConformanceSuite, startCredentialProxy, startReferenceServer, startStreamsServer, type Running, type SuiteResult,
} from "./durable-streams-support";

let spool: LocalServer;
let proxy: Running;
let spoolResult: SuiteResult;

beforeAll(async () => {
  spool = await startStreamsServer();
  // The suite sends no credential; the proxy adds Spool's admin key to every request.
  proxy = await startCredentialProxy(spool.url, spool.adminKey);
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  await spool?.stop();
  if (spool) removeState(spool.persistTo);
});

describe("durable streams conformance", () => {
  it("streams - the published conformance suite passes in full against Spool", async () => {
    spoolResult = await runConformanceSuite(proxy.url);
    console.log(`conformance suite vs Spool: ${spoolResult.passed} passed, ${spoolResult.failed} failed, ${spoolResult.skipped} skipped (${spoolResult.seconds} s)`);
    expect(spoolResult.failures).toEqual([]);
    expect(spoolResult.failed).toBe(0);
    expect(spoolResult.passed).toBeGreaterThan(300);
  }, 600_000);

  it("streams - the same suite judges the reference server, for comparison", async () => {
    const reference = await startReferenceServer();
    try {
      const r = await runConformanceSuite(reference.url);
      console.log(`conformance suite vs @durable-streams/server: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped (${r.seconds} s)`);
      for (const name of r.failures) console.log(`  reference server fails: ${name}`);
      // Same suite, same tests: only the outcomes may differ.
      if (spoolResult) expect(r.passed + r.failed + r.skipped).toBe(spoolResult.passed + spoolResult.failed + spoolResult.skipped);
    } finally {
      await reference.close();
    }
  }, 600_000);
});
