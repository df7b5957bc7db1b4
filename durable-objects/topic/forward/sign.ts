/**
 * Webhook signatures for subscriptions: `Spool-Signature: t=<unix seconds>,v1=<hex>` where
 * the hex is HMAC-SHA256 keyed with the subscription's secret over `"<t>.<raw body>"`.
 * Signing the timestamp with the body lets a receiver reject replays by age; WebCrypto does
 * the HMAC (no hand-rolled crypto).
 */

export const SIGNATURE_HEADER = "Spool-Signature";

const encoder = new TextEncoder();

async function hmacHex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(message)));
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The `Spool-Signature` header value for `rawBody` sent at `unixSeconds`.
 * @example await signatureHeader("s3cret", '{"id":"a"}', 1700000000) // "t=1700000000,v1=5c1f…"
 */
export async function signatureHeader(secret: string, rawBody: string, unixSeconds: number): Promise<string> {
  return `t=${unixSeconds},v1=${await hmacHex(secret, `${unixSeconds}.${rawBody}`)}`;
}

/** A fresh random secret (32 bytes, hex) for a webhook subscription created without one. */
export function generateSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
