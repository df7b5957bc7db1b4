// Error text users see is a plain sentence (API.md, Conventions): a subscription's lastError
// never shows what a runtime threw ("Maximum call stack size exceeded", "internal error;
// reference = …", a stack) or a credential, whichever way forwarding failed; the detail goes
// to the server's log instead.
import { describe, expect, it } from "vitest";
import { plainSentence } from "../../durable-objects/shared/plain-errors";
import { uniqueName } from "./helpers";
import { createTopic, drain, publish, putSubscription, setHooks, subscriptionStatus } from "./subscription-helpers";

const FALLBACK = "it failed; it will be retried";

/** What runtimes and libraries throw, none of which may reach a user. */
const RAW = [
  "Maximum call stack size exceeded",
  "internal error; reference = 7ghbd1c5oa0kq2lcsv6tgk2a",
  "RangeError: Invalid array length\n    at Object.parse (native)\n    at forward (forwarder.ts:120:7)",
  "TypeError: Cannot read properties of undefined (reading 'body')",
  "fetch to http://hook.test/?token=eyJhbGciOiJIUzI1NiJ9.eyJjYXBhYmlsaXRpZXMiOnt9fQ.c2ln failed",
  "sent Authorization: Bearer test-admin-key",
];

/** A lastError fit for users: a sentence of ours, none of the raw text. */
function expectPlain(lastError: { message: string }): void {
  for (const raw of RAW) expect(lastError.message).not.toContain(raw.split("\n")[0]!.slice(0, 30));
  expect(plainSentence(lastError.message, FALLBACK)).toBe(lastError.message);
}

describe("plain error text", () => {
  it("plain errors - runtime messages, stacks, internal references and credentials are replaced; our sentences pass", () => {
    for (const raw of RAW) expect(plainSentence(raw, FALLBACK), raw).toBe(FALLBACK);
    for (const ours of ["webhook answered 503", "queue 'jobs' is full (100000 messages)", "offsets 0..2 were removed by retention before they were forwarded"]) {
      expect(plainSentence(ours, FALLBACK)).toBe(ours);
    }
  });

  it("plain errors - a webhook whose request throws leaves a plain lastError", async () => {
    const t = uniqueName("topic");
    await createTopic(t);
    await putSubscription(t, "hook", { url: "http://127.0.0.1:9/hook" });
    for (const raw of RAW) {
      await setHooks(t, 0, { fetch: async () => { throw new Error(raw); } });
      await publish(t, [{ body: raw.length }]);
      await drain(t);
      const st = await subscriptionStatus(t, "hook");
      expect(st.lastError).toMatchObject({ code: "WEBHOOK_UNREACHABLE", offset: 0 });
      expectPlain(st.lastError);
    }
  });

  it("plain errors - a forwarding step that throws into a queue subscription leaves a plain lastError", async () => {
    for (const raw of RAW) {
      const t = uniqueName("topic");
      await createTopic(t);
      await putSubscription(t, "s", { queue: uniqueName("q") });
      await setHooks(t, 0, { afterTargetWrite: () => { throw raw.startsWith("Maximum") ? new RangeError(raw) : new Error(raw); } });
      await publish(t, [{ body: 1 }]);
      await drain(t);
      const st = await subscriptionStatus(t, "s");
      expect(st.lastError).toMatchObject({ code: "INTERNAL", offset: 0 });
      expectPlain(st.lastError);
    }
  });
});
