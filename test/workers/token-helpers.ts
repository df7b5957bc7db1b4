/** Helpers for the token, authorisation and fuzz tests: minting real tokens and forging bad ones. */
import { env } from "cloudflare:workers";
import { generateKeyPair, SignJWT, UnsecuredJWT } from "jose";
import { callJson } from "./helpers";

export type Caps = Record<string, string[]>;

/** A real token from `POST /v1/tokens`, minted with the admin key. */
export async function mint(capabilities: Caps, ttl = 300): Promise<string> {
  const { status, body } = await callJson("POST", "/v1/tokens", { body: { ttl, capabilities } });
  if (status !== 201) throw new Error(`mint failed: ${status} ${JSON.stringify(body)}`);
  return body.token as string;
}

export interface ForgeOptions {
  alg?: "HS256" | "HS384" | "HS512" | "RS256" | "none";
  secret?: string;
  /** Seconds since epoch; defaults to five minutes from now. `null` leaves `exp` out. */
  exp?: number | null;
  iss?: string;
}

/** Signs claims the way an attacker (or a misconfigured issuer) might. */
export async function forge(capabilities: unknown, options: ForgeOptions = {}): Promise<string> {
  const alg = options.alg ?? "HS256";
  const exp = options.exp === undefined ? Math.floor(Date.now() / 1000) + 300 : options.exp;
  const claims = { capabilities } as Record<string, unknown>;
  if (alg === "none") {
    const jwt = new UnsecuredJWT(claims).setIssuer(options.iss ?? "spool");
    if (exp !== null) jwt.setExpirationTime(exp);
    return jwt.encode();
  }
  const jwt = new SignJWT(claims).setProtectedHeader({ alg, typ: "JWT" }).setIssuer(options.iss ?? "spool");
  if (exp !== null) jwt.setExpirationTime(exp);
  if (alg === "RS256") {
    const { privateKey } = await generateKeyPair("RS256");
    return jwt.sign(privateKey);
  }
  return jwt.sign(new TextEncoder().encode(options.secret ?? env.SPOOL_TOKEN_SECRET!));
}

/** Replaces a token's payload (keeping its header and signature): a tampered token. */
export function tamper(token: string, change: (claims: Record<string, unknown>) => void): string {
  const [header, payload, signature] = token.split(".");
  const claims = JSON.parse(atob(payload!.replace(/-/g, "+").replace(/_/g, "/"))) as Record<string, unknown>;
  change(claims);
  const encoded = btoa(JSON.stringify(claims)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `${header}.${encoded}.${signature}`;
}
