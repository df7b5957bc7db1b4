// Fail closed: without SPOOL_ADMIN_KEY every /v1 route is 503 NOT_CONFIGURED, never open.
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import app from "../../worker/index";

describe("configuration", () => {
  it("config - no admin key configured answers 503 NOT_CONFIGURED with Retry-After", async () => {
    const unconfigured = { ...env, SPOOL_ADMIN_KEY: undefined };
    for (const auth of [undefined, "Bearer anything"]) {
      const headers: Record<string, string> = auth ? { authorization: auth } : {};
      const res = await app.fetch(new Request("http://spool.test/v1/queues", { headers }), unconfigured);
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).not.toBeNull();
      const body = (await res.json()) as { error: { code: string } };
      expect(body.error.code).toBe("NOT_CONFIGURED");
    }
  });

  it("config - /health still answers without an admin key", async () => {
    const res = await app.fetch(new Request("http://spool.test/health"), { ...env, SPOOL_ADMIN_KEY: undefined });
    expect(res.status).toBe(200);
  });
});
