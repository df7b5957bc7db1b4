/**
 * `{"type":"auth","token"}` frames on a subscription socket: the socket swaps its credential
 * before the one that opened it expires. The partition verifies the token itself with the
 * shared verifier (shared/token-verify.ts: it needs only the token secrets, which objects
 * share with the Worker). The token must grant `subscribe` on the topic, as the route
 * demands, or the socket is closed with 4003; whether the socket may publish is derived
 * again from the new token, and its expiry replaces the old one.
 */
import { grants, MAX_TOKEN_CHARS, swapCredential, type TokenSecrets } from "../../shared/token-verify";

export type AuthVerdict =
  /** The socket goes on under the new token. */
  | { type: "swap"; expiresAt: number; canPublish: boolean }
  /** Not a token at all: answered with a `VALIDATION_FAILED` error frame, the socket stays. */
  | { type: "invalid"; message: string }
  /** A token that does not verify or does not cover the stream: close with 4003. */
  | { type: "refused" };

/** The verdict on an `auth` frame's `token` on a socket subscribed to `topic`, at `now` (objects' clock). */
export async function judgeAuthFrame(secrets: TokenSecrets, topic: string, token: unknown, now: number): Promise<AuthVerdict> {
  if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_CHARS) {
    return { type: "invalid", message: `auth needs a token: a string of 1..${MAX_TOKEN_CHARS} characters` };
  }
  const claims = await swapCredential(token, secrets, "topics", "subscribe", topic, now);
  if (!claims) return { type: "refused" };
  return { type: "swap", expiresAt: claims.expiresAt, canPublish: grants(claims.capabilities, "topics", "publish", topic) };
}
