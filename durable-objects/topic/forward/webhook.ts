/**
 * One webhook delivery: the JSON body, the signature and delivery headers, the timeout, and
 * the verdict (2xx = accepted, anything else or no answer = failed). Redirects are not
 * followed: a redirect could lead to an address the URL check would have refused.
 */
import { privateWebhooksAllowed, webhookUrlProblem } from "./address";
import { SIGNATURE_HEADER, signatureHeader } from "./sign";
import { logThrown } from "../../shared/plain-errors";
import type { LogEntry } from "../types";

export const DELIVERY_ID_HEADER = "Spool-Delivery-Id";
export const ATTEMPT_HEADER = "Spool-Attempt";
export const USER_AGENT = "Spool-Webhook/1";

export type FetchLike = (request: Request) => Promise<Response>;

export interface WebhookDelivery {
  url: string;
  secret: string;
  topic: string;
  subscription: string;
  entry: LogEntry;
  /** Stable across retries of this message to this subscription, for receiver-side dedup. */
  deliveryId: string;
  /** 1 on the first try. */
  attempt: number;
  timeoutMs: number;
  /** Aborts the request (the subscription was deleted). */
  signal: AbortSignal;
}

export type DeliveryOutcome = { ok: true } | { ok: false; code: string; message: string };

/** The JSON a webhook receives: the message object plus `topic` and `subscription`. */
export function webhookBody(topic: string, subscription: string, e: LogEntry): string {
  return JSON.stringify({
    topic, subscription,
    partition: e.partition, offset: e.offset, id: e.id, key: e.key,
    body: e.body, headers: e.headers, timestamp: e.timestamp,
  });
}

/** POSTs one message; never throws. */
export async function deliverWebhook(d: WebhookDelivery, env: { SPOOL_ALLOW_PRIVATE_WEBHOOKS?: string }, doFetch: FetchLike): Promise<DeliveryOutcome> {
  // Checked again at delivery: the operator may have withdrawn the private-address allowance.
  const problem = webhookUrlProblem(d.url, privateWebhooksAllowed(env));
  if (problem) return { ok: false, code: "WEBHOOK_REFUSED", message: problem };
  const raw = webhookBody(d.topic, d.subscription, d.entry);
  const headers = new Headers({
    "content-type": "application/json",
    "user-agent": USER_AGENT,
    // Wall-clock time on purpose, not the objects' movable clock: the receiver checks `t`
    // against its own clock, so a test server whose clock was moved must still sign verifiably.
    [SIGNATURE_HEADER]: await signatureHeader(d.secret, raw, Math.floor(Date.now() / 1000)),
    [DELIVERY_ID_HEADER]: d.deliveryId,
    [ATTEMPT_HEADER]: String(d.attempt),
  });
  const controller = new AbortController();
  const onAbort = (): void => controller.abort();
  d.signal.addEventListener("abort", onAbort);
  // An in-memory timer is fine here: it only bounds this one request; a restart ends it anyway.
  // It is left to fire (aborting a finished request does nothing), never cleared: a cleared
  // timer keeps native memory in a Durable Object until eviction (shared/wake-list.ts).
  setTimeout(() => controller.abort(), d.timeoutMs);
  try {
    const res = await doFetch(new Request(d.url, { method: "POST", headers, body: raw, redirect: "manual", signal: controller.signal }));
    await res.body?.cancel().catch(() => {});
    if (res.status >= 200 && res.status < 300) return { ok: true };
    return { ok: false, code: "WEBHOOK_STATUS", message: `webhook answered ${res.status}` };
  } catch (err) {
    if (d.signal.aborted) return { ok: false, code: "ABORTED", message: "subscription deleted during delivery" };
    if (controller.signal.aborted) return { ok: false, code: "WEBHOOK_TIMEOUT", message: `webhook did not answer within ${d.timeoutMs / 1000} s` };
    // The runtime's text may be an internal reference or quote the request: the log keeps it.
    logThrown(`webhook delivery ${d.deliveryId}`, err);
    return { ok: false, code: "WEBHOOK_UNREACHABLE", message: "the webhook could not be reached (no connection, or it was lost)" };
  } finally {
    d.signal.removeEventListener("abort", onAbort);
  }
}
