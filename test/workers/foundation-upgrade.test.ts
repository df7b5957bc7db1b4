// Stream endpoints explain a refused handshake: 404 for a missing target before 426.
import { describe, expect, it } from "vitest";
import { callJson, errorCode, uniqueName } from "./helpers";

describe("stream endpoints without an upgrade", () => {
  it("streams - a plain GET on a missing queue or topic is 404, on an existing one 426", async () => {
    const q = uniqueName("q");
    const t = uniqueName("t");
    for (const path of [`/v1/queues/${q}/consume`, `/v1/topics/${t}/subscribe`]) {
      const missing = await callJson("GET", path);
      expect(missing.status, path).toBe(404);
      expect(errorCode(missing.body)).toBe("NOT_FOUND");
    }
    expect((await callJson("PUT", `/v1/queues/${q}`)).status).toBe(200);
    expect((await callJson("PUT", `/v1/topics/${t}`)).status).toBe(200);
    for (const path of [`/v1/queues/${q}/consume`, `/v1/topics/${t}/subscribe`]) {
      const plain = await callJson("GET", path);
      expect(plain.status, path).toBe(426);
      expect(errorCode(plain.body)).toBe("UPGRADE_REQUIRED");
    }
  });
});
