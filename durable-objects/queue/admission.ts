/**
 * What a call must clear before it creates a queue (an explicit PUT, or implicitly a first
 * send or a subscription's target): the config it would get must be valid; the caller must
 * be allowed to write into the dead-letter queue that config names when it is the default
 * `"{q}.dlq"` (API.md, *Dead-letter queues*: the default name included, so a token that may
 * send to `jobs` cannot create `jobs` and so write into another tenant's `jobs.dlq`); and
 * the Catalog must list the name within the `SPOOL_MAX_QUEUES` quota, which is the gate:
 * registration refuses past the quota, atomically, before anything is created.
 *
 * A dead-letter queue created by a move (`receiveDeadLetter`) is not gated: letters are never
 * refused. It is listed after creation (counted, so it leaves less room for new queues), and
 * there can be at most one per dead-letter queue a source was configured with.
 */
import type { ErrorValue } from "../../protocol/errors";
import type { QueueConfigInput } from "../../protocol/queues";
import { catalogStub, type Env } from "../env";
import { now } from "../shared/clock";
import { defaultDeadLetterQueue, resolveConfig } from "./config";

/** What the Worker tells a queue about a caller that may create it. */
export interface CreateOptions {
  /**
   * Whether the caller may `send` to `"{q}.dlq"`, the dead-letter queue a queue created
   * without naming one gets. The Worker decides it from the credential; absent means
   * allowed (another object forwarding on behalf of a subscription that was authorised).
   */
  defaultDeadLetterQueueAllowed?: boolean;
}

/** Refused before anything was written, or admitted (the Catalog lists the name now). */
export type Admission = { ok: false; error: ErrorValue } | { ok: true };

/**
 * Admits the creation of queue `name` with `input` (`{}` for the defaults). Call only when
 * the queue does not exist; give the place back (`release`) when the creation then did not
 * happen, so a refused send cannot use up the quota.
 */
export async function admit(env: Env, name: string, input: QueueConfigInput, options: CreateOptions): Promise<Admission> {
  const resolved = resolveConfig(name, null, input);
  if (!resolved.ok) return resolved;
  const dlq = resolved.config.deadLetterQueue;
  if (options.defaultDeadLetterQueueAllowed === false && dlq !== null && dlq === defaultDeadLetterQueue(name)) {
    return {
      ok: false,
      error: {
        code: "FORBIDDEN",
        message: `credential lacks 'send' on queues/${dlq}, the dead-letter queue a new queue '${name}' gets by default: create it with a PUT that names a deadLetterQueue you may send to (or null)`,
        details: { kind: "queues", action: "send", name: dlq },
      },
    };
  }
  const listed = await catalogStub(env).register("queues", name, now());
  return listed.ok ? { ok: true } : listed;
}

/** Takes back the Catalog entry of a creation that rolled back. Never throws (a stale entry is skipped by the list route). */
export async function release(env: Env, name: string): Promise<void> {
  try {
    await catalogStub(env).unregister("queues", name);
  } catch (err) {
    console.warn(`catalog unregister of '${name}' failed`, err);
  }
}
