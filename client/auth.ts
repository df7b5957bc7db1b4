/**
 * The credential the client presents: a fixed admin key or token, or a `getToken` function
 * for short-lived tokens. Tokens are refreshed shortly before they expire (known from what
 * `getToken` returns, or from a JWT's `exp` claim) and whenever the server answers `401`.
 * Concurrent callers share one refresh.
 */

/** What `getToken` may return: the token, optionally with its expiry (ms epoch). */
export type TokenSource = string | { token: string; expiresAt?: number };

/** Refresh a token this long before it expires (at most; see `refreshMargin`). */
export const TOKEN_REFRESH_MARGIN_MS = 30_000;
/** …and never earlier than this fraction of its lifetime before expiry. */
export const TOKEN_REFRESH_FRACTION = 0.2;

export interface CredentialOptions {
  /** A fixed credential: the admin key (server side only) or a token. */
  token?: string | undefined;
  /** Called for a fresh token at start, before the current one expires, and after a `401`. */
  getToken?: (() => TokenSource | Promise<TokenSource>) | undefined;
}

interface Current {
  token: string;
  expiresAt: number | undefined;
  fetchedAt: number;
}

export class Credentials {
  private current: Current | undefined;
  private pending: Promise<string> | undefined;
  private readonly getToken: (() => TokenSource | Promise<TokenSource>) | undefined;
  /**
   * False once a server refused an `auth` frame (it predates them): sockets then reconnect
   * with the fresh token instead of swapping it in place.
   */
  socketSwap = true;

  constructor(options: CredentialOptions) {
    if (options.token === undefined && options.getToken === undefined) {
      throw new TypeError("Spool: pass `token` or `getToken`");
    }
    this.getToken = options.getToken;
    if (options.token !== undefined) this.current = { token: options.token, expiresAt: undefined, fetchedAt: Date.now() };
  }

  /**
   * When the current token is due for a refresh (ms epoch), or undefined when it never is
   * (a fixed credential, or a token whose expiry is unknown). Open sockets swap their
   * credential at this time (`{"type":"auth"}`), before the server would close them.
   */
  get refreshAt(): number | undefined {
    const cur = this.current;
    if (!cur || !this.getToken || cur.expiresAt === undefined) return undefined;
    return cur.expiresAt - refreshMargin(cur);
  }

  /** True when a `401` can be answered by asking `getToken` again. */
  get canRefresh(): boolean {
    return this.getToken !== undefined;
  }

  /** The token to use now, refreshed first when it is missing or about to expire. */
  async get(): Promise<string> {
    const cur = this.current;
    if (cur && (!this.getToken || !isDue(cur, Date.now()))) return cur.token;
    return this.refresh();
  }

  /** Asks `getToken` for a new token (one call however many callers wait). */
  refresh(): Promise<string> {
    if (!this.getToken) return Promise.resolve(this.current!.token);
    this.pending ??= (async () => {
      try {
        const src = await this.getToken!();
        const token = typeof src === "string" ? src : src.token;
        const expiresAt = typeof src === "string" ? jwtExpiry(src) : (src.expiresAt ?? jwtExpiry(src.token));
        this.current = { token, expiresAt, fetchedAt: Date.now() };
        return token;
      } finally {
        this.pending = undefined;
      }
    })();
    return this.pending;
  }
}

function refreshMargin(cur: Current): number {
  const lifetime = Math.max(0, (cur.expiresAt ?? 0) - cur.fetchedAt);
  return Math.min(TOKEN_REFRESH_MARGIN_MS, lifetime * TOKEN_REFRESH_FRACTION);
}

function isDue(cur: Current, now: number): boolean {
  if (cur.expiresAt === undefined) return false;
  return now >= cur.expiresAt - refreshMargin(cur);
}

/** The `exp` claim (as ms epoch) of a JWT, or undefined when the token is not one. */
export function jwtExpiry(token: string): number | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  try {
    const b64 = parts[1]!.replace(/-/g, "+").replace(/_/g, "/");
    const json = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    const claims: unknown = JSON.parse(json);
    const exp = typeof claims === "object" && claims !== null ? (claims as { exp?: unknown }).exp : undefined;
    return typeof exp === "number" ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
