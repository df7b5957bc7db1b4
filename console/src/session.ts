/**
 * Who the console is signed in as. The credential (admin key, access key `id:secret`, or
 * token) lives in sessionStorage only: it is gone when the tab closes, and never goes in a
 * URL. Every call goes through the SDK, built with that credential, against this origin's
 * public /v1 API; `page()` adds the list paging (`?limit=`, `?cursor=`) the SDK does not
 * expose.
 */
import { ERROR_FAMILIES, ServerError, Spool, SpoolError, type ErrorCode } from "../../client/index";

const STORAGE_KEY = "spool.console.credential";

export type CredentialKind = "admin" | "key" | "token";

export interface Session {
  kind: CredentialKind;
  /** What the header says: "admin key", "access key AKIA…", "token (expires 12:30)". */
  label: string;
  /** ms epoch, for tokens. */
  expiresAt?: number;
  spool: Spool;
  /** A GET of a public /v1 path with a query, answered as JSON or thrown as a typed error. */
  get<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T>;
  /** Credentials for live streams: browsers put them in the URL, where only tokens are accepted. */
  streamClient(topic: string): Spool | null;
}

export function storedCredential(): string | null {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function forgetCredential(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}

const JWT = /^[\w-]+\.[\w-]+\.[\w-]*$/;

/** The `exp` claim of a JWT as ms epoch, or undefined. */
function jwtExpiry(token: string): number | undefined {
  try {
    const b64 = token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4))) as { exp?: unknown };
    return typeof claims.exp === "number" ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** An API error body turned into the SDK's typed error of its family. */
async function failure(res: Response): Promise<SpoolError> {
  let body: { error?: { code?: string; message?: string; details?: Record<string, unknown> } } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    // not JSON: fall through to a generic error
  }
  const code = body.error?.code ?? "INTERNAL";
  const Family = ERROR_FAMILIES[code as ErrorCode] ?? ServerError;
  return new Family({ code, status: res.status, message: body.error?.message ?? `HTTP ${res.status}`, details: body.error?.details });
}

function makeGet(credential: string) {
  return async <T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T> => {
    const url = new URL(path, location.origin);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const res = await fetch(url, { headers: { authorization: `Bearer ${credential}` } });
    if (!res.ok) throw await failure(res);
    return (await res.json()) as T;
  };
}

/**
 * Checks the credential with one read that every valid credential can make and only the
 * admin key passes (`GET /v1/keys`): 200 is the admin key (or `admin:<key>`), 403 a valid
 * access key or token, 401 neither. Stores it only once it proved valid.
 */
export async function signIn(input: string): Promise<Session> {
  const credential = input.trim();
  if (!credential) throw new Error("Paste the admin key, an access key (id:secret) or a token.");
  const get = makeGet(credential);
  let admin = false;
  try {
    await get("/v1/keys", { limit: 1 });
    admin = true;
  } catch (err) {
    if (!(err instanceof SpoolError) || err.status !== 403) throw err;
  }
  sessionStorage.setItem(STORAGE_KEY, credential);
  const spool = new Spool({ url: location.origin, token: credential });
  const kind: CredentialKind = admin ? "admin" : JWT.test(credential) ? "token" : "key";
  const expiresAt = kind === "token" ? jwtExpiry(credential) : undefined;
  const label = kind === "admin"
    ? "admin key"
    : kind === "key"
      ? `access key ${credential.split(":")[0]}`
      : `token${expiresAt ? `, expires ${new Date(expiresAt).toLocaleTimeString("en-GB")}` : ""}`;
  return { kind, label, expiresAt, spool, get, streamClient: (topic) => streamClient(kind, credential, spool, topic) };
}

/** How long the tokens the console mints for its own live tail live; the SDK refreshes them before expiry. */
const TAIL_TOKEN_TTL_S = 600;

/**
 * A client whose credential may open a topic's stream from a browser. A token goes as it
 * is. The admin key mints itself short-lived `subscribe` tokens for that one topic (the key
 * never enters a URL). An access key cannot mint tokens: null, and the tail reads the log
 * by polling instead.
 */
function streamClient(kind: CredentialKind, credential: string, spool: Spool, topic: string): Spool | null {
  if (kind === "token") return new Spool({ url: location.origin, token: credential });
  if (kind === "key") return null;
  return new Spool({
    url: location.origin,
    getToken: () => spool.createToken({ ttl: TAIL_TOKEN_TTL_S, capabilities: { [`topics/${topic}`]: ["subscribe"] } }),
  });
}

/** One line saying why a call failed; 403s say which capability is missing. */
export function explain(err: unknown): string {
  if (err instanceof SpoolError) {
    if (err.status === 403) return `Not allowed with this credential: ${err.message}.`;
    if (err.status === 401) return "The credential was refused (expired or revoked?). Sign in again.";
    return `${err.message} (${err.code})`;
  }
  return err instanceof Error ? err.message : String(err);
}

export function isForbidden(err: unknown): boolean {
  return err instanceof SpoolError && err.status === 403;
}

export function isNotFound(err: unknown): boolean {
  return err instanceof SpoolError && err.status === 404;
}
