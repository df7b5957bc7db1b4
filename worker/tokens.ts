/**
 * Capability tokens: minting and verification. Tokens arrive with their own issue; until
 * then no token verifies, so only the admin key is accepted.
 */
import type { Capabilities } from "./auth";
import type { Env } from "./env";

export interface TokenClaims {
  capabilities: Capabilities;
  /** ms since epoch */
  expiresAt: number;
}

export async function verifyToken(_token: string, _env: Env): Promise<TokenClaims | null> {
  return null;
}
