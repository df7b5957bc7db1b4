// The real local server: health over real HTTP, auth, and the error shape.
import { describe, expect, it } from "vitest";
import { api } from "./helpers";

describe("local server", () => {
  it("server - /health answers over real HTTP", async () => {
    const { status, body } = await api("GET", "/health", undefined, null);
    expect(status).toBe(200);
    expect(body).toMatchObject({ ok: true });
  });

  it("server - /v1 without a key is 401 in the JSON error shape", async () => {
    const { status, body } = await api("GET", "/v1/queues", undefined, null);
    expect(status).toBe(401);
    expect(body.error.code).toBe("UNAUTHORIZED");
  });
});
