// The Worker's plumbing: health, OpenAPI, auth, errors, body limits, content types, names.
import { describe, expect, it } from "vitest";
import { exports } from "cloudflare:workers";
import { BASE, call, callJson, errorCode } from "./helpers";

describe("meta", () => {
  it("meta - /health answers ok and the version without auth", async () => {
    const { status, body } = await callJson("GET", "/health", { auth: null });
    expect(status).toBe(200);
    expect(body.ok).toBe(true);
    expect(typeof body.version).toBe("string");
  });

  it("meta - /openapi.json is an OpenAPI 3.1 document with /v1 paths", async () => {
    const { status, body } = await callJson("GET", "/openapi.json", { auth: null });
    expect(status).toBe(200);
    expect(body.openapi).toBe("3.1.0");
    expect(Object.keys(body.paths)).toContain("/health");
  });
});

describe("auth", () => {
  it("auth - a /v1 request without a credential is 401 UNAUTHORIZED", async () => {
    const { status, body } = await callJson("GET", "/v1/queues", { auth: null });
    expect(status).toBe(401);
    expect(errorCode(body)).toBe("UNAUTHORIZED");
  });

  it("auth - a wrong key is 401, also on unknown /v1 paths", async () => {
    for (const path of ["/v1/queues", "/v1/nothing-here"]) {
      const { status, body } = await callJson("GET", path, { auth: "wrong" });
      expect(status).toBe(401);
      expect(errorCode(body)).toBe("UNAUTHORIZED");
    }
  });

  it("auth - a malformed Authorization header is 401", async () => {
    const res = await exports.default.fetch(new Request(`${BASE}/v1/queues`, { headers: { authorization: "Basic abc" } }));
    expect(res.status).toBe(401);
    expect(errorCode(await res.json())).toBe("UNAUTHORIZED");
  });

  it("auth - the admin key is never accepted in the query string", async () => {
    const { status } = await callJson("GET", "/v1/queues?token=test-admin-key", { auth: null });
    expect(status).toBe(401);
  });
});

describe("errors", () => {
  it("errors - unknown paths answer 404 NOT_FOUND in the JSON shape", async () => {
    const { status, body } = await callJson("GET", "/v1/nope");
    expect(status).toBe(404);
    expect(errorCode(body)).toBe("NOT_FOUND");
    const outside = await callJson("GET", "/nope", { auth: null });
    expect(outside.status).toBe(404);
    expect(errorCode(outside.body)).toBe("NOT_FOUND");
  });
});

describe("cors", () => {
  it("cors - a preflight from another origin is allowed with Authorization", async () => {
    const res = await exports.default.fetch(
      new Request(`${BASE}/v1/queues/jobs/messages`, {
        method: "OPTIONS",
        headers: { origin: "http://app.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
      }),
    );
    expect(res.status).toBeLessThan(300);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
  });

  it("cors - error answers carry the CORS header so browsers can read them", async () => {
    const res = await exports.default.fetch(new Request(`${BASE}/v1/queues`, { headers: { origin: "http://app.example" } }));
    expect(res.status).toBe(401);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
  });
});
