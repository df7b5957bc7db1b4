// Request plumbing: body limit before parsing, JSON-only bodies, name validation.
import { describe, expect, it } from "vitest";
import { call, callJson, errorCode } from "./helpers";

describe("request plumbing", () => {
  it("body - a body over SPOOL_MAX_BODY_BYTES is 413 PAYLOAD_TOO_LARGE", async () => {
    const big = "x".repeat(1024 * 1024 + 10);
    const res = await call("POST", "/v1/queues/limits/messages", { raw: JSON.stringify({ body: big }), headers: { "content-type": "application/json" } });
    expect(res.status).toBe(413);
    expect(errorCode(await res.json())).toBe("PAYLOAD_TOO_LARGE");
  });

  it("body - a non-JSON body is 415 UNSUPPORTED_MEDIA_TYPE", async () => {
    const res = await call("POST", "/v1/queues/plain/messages", { raw: "hello", headers: { "content-type": "text/plain" } });
    expect(res.status).toBe(415);
    expect(errorCode(await res.json())).toBe("UNSUPPORTED_MEDIA_TYPE");
  });

  it("body - malformed JSON is 400 BAD_REQUEST", async () => {
    const res = await call("POST", "/v1/queues/broken/messages", { raw: "{not json", headers: { "content-type": "application/json" } });
    expect(res.status).toBe(400);
    expect(errorCode(await res.json())).toBe("BAD_REQUEST");
  });

  it("names - invalid queue and topic names are 400 INVALID_NAME", async () => {
    for (const path of ["/v1/queues/-bad", "/v1/queues/a%2Fb/messages", `/v1/topics/${"x".repeat(129)}`, "/v1/topics/sp%20ace/messages"]) {
      const { status, body } = await callJson("GET", path);
      expect(status, path).toBe(400);
      expect(errorCode(body), path).toBe("INVALID_NAME");
    }
  });
});

describe("authentication comes first", () => {
  it("auth - an unauthenticated request is 401 before its body is judged (size, type, JSON)", async () => {
    const cases = [
      { raw: JSON.stringify({ body: "x".repeat(1024 * 1024 + 10) }), type: "application/json" },
      { raw: "hello", type: "text/plain" },
      { raw: "{not json", type: "application/json" },
    ];
    for (const { raw, type } of cases) {
      const res = await call("POST", "/v1/queues/first/messages", { raw, auth: null, headers: { "content-type": type } });
      expect(res.status).toBe(401);
      expect(errorCode(await res.json())).toBe("UNAUTHORIZED");
    }
    const peek = await callJson("GET", "/v1/queues/first");
    expect(peek.status).toBe(404);
  });
});
