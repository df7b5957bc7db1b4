/**
 * Opens a WebSocket to an API path in whatever runtime we are in, with the credential in
 * the best place that runtime allows:
 *   - Workers: `fetch` with `Upgrade: websocket` and the Authorization header (and real
 *     HTTP errors when the upgrade is refused);
 *   - Node (undici's WebSocket takes `{headers}`): the Authorization header;
 *   - browsers: `?token=` (browsers cannot set headers on WebSockets; tokens only).
 * A refused handshake in a browser or Node says nothing about why, so the same URL is then
 * probed with a plain GET, which answers with the API's JSON error (401, 403, 404, …).
 * An open socket swaps its credential before it expires (swap.ts). Error messages name the
 * path, never the URL: a browser's URL carries the token.
 */
import { ConnectionError, errorFromResponse, isRecord, SpoolError } from "./errors.js";
import type { Http, Query } from "./http.js";
import { CredentialSwap } from "./swap.js";

/** A JSON frame from the server. */
export type Frame = Record<string, unknown> & { type?: unknown };

export interface CloseInfo {
  code: number;
  reason: string;
  /** Closed because the server refused an in-place credential swap: reconnect at once (swap.ts). */
  swapRefused?: boolean | undefined;
}

export interface Socket {
  /** Sends one JSON frame; false when the socket is no longer open. */
  send(frame: Frame): boolean;
  close(code?: number, reason?: string): void;
  /** Resolves once the socket is closed (by either side, or by a network failure). */
  readonly closed: Promise<CloseInfo>;
}

/** The subset of the WebSocket interface shared by browsers, Workers and Node. */
interface RawSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: unknown) => void): void;
  accept?(): void;
}
type RawSocketCtor = new (url: string, init?: unknown) => RawSocket;

const OPEN = 1;

type Runtime = "workers" | "node" | "browser";

function runtime(): Runtime {
  const g = globalThis as { WebSocketPair?: unknown; process?: { versions?: { node?: unknown } } };
  if (g.WebSocketPair !== undefined) return "workers";
  if (typeof g.process?.versions?.node === "string") return "node";
  return "browser";
}

/** Opens the socket and resolves once it is open; rejects with a typed error otherwise. */
export async function openSocket(http: Http, path: string, query: Query, onFrame: (frame: Frame) => void, signal?: AbortSignal, explain?: Explain): Promise<Socket> {
  const token = await http.credentials.get();
  const rt = runtime();
  let raw: RawSocket;
  if (rt === "workers") {
    const res = await http.fetchImpl(http.url(path, query), { headers: { upgrade: "websocket", authorization: `Bearer ${token}` }, signal: signal ?? null });
    const ws = (res as unknown as { webSocket?: RawSocket | null }).webSocket;
    if (res.status !== 101 || !ws) throw await errorFromResponse(res);
    ws.accept?.();
    raw = ws;
  } else {
    const Ctor = (globalThis as unknown as { WebSocket?: RawSocketCtor }).WebSocket;
    if (!Ctor) throw new ConnectionError({ code: "CONNECTION_FAILED", status: 0, message: "this runtime has no WebSocket (Node 20); use transport: \"sse\" or Node 22", details: { noWebSocket: true } });
    const wsUrl = http.url(path, rt === "browser" ? { ...query, token } : query).replace(/^http/, "ws");
    raw = rt === "node" ? new Ctor(wsUrl, { headers: { authorization: `Bearer ${token}` } }) : new Ctor(wsUrl);
  }
  let swap: CredentialSwap | undefined;
  const socket = wrap(raw, (frame) => {
    if (!swap?.intercept(frame)) onFrame(frame);
  }, (code) => swap?.closedBySwap(code) ?? false);
  const keepFresh = (): Socket => {
    swap = new CredentialSwap(http.credentials, socket, token);
    return socket;
  };
  if (rt === "workers") return keepFresh();
  const opened = await new Promise<"open" | "closed" | "timeout">((resolve) => {
    // A server (or proxy) that took the connection but never answers would stall the stream for good.
    const timer = setTimeout(() => resolve("timeout"), http.connectTimeoutMs);
    const settle = (how: "open" | "closed"): void => {
      clearTimeout(timer);
      resolve(how);
    };
    raw.addEventListener("open", () => settle("open"));
    void socket.closed.then(() => settle("closed"));
    signal?.addEventListener("abort", () => {
      raw.close(1000, "aborted");
      settle("closed");
    }, { once: true });
  });
  if (opened === "open" && raw.readyState === OPEN) return keepFresh();
  if (signal?.aborted) throw signal.reason;
  if (opened === "timeout") {
    socket.close(1000, "handshake timed out");
    throw new ConnectionError({ code: "CONNECTION_FAILED", status: 0, message: `WebSocket to ${path} did not open within ${http.connectTimeoutMs} ms`, details: { timedOut: true } });
  }
  throw await probe(http, path, query, explain);
}

/** A second opinion when the plain GET only says "upgrade required": a request that throws the resource's error. */
export type Explain = () => Promise<unknown>;

/** Why a handshake failed, as far as the API can tell us. */
async function probe(http: Http, path: string, query: Query, explain?: Explain): Promise<SpoolError> {
  // HTTP to the same URL works but the WebSocket did not open: something on the way blocks WebSockets.
  const failed = new ConnectionError({ code: "CONNECTION_FAILED", status: 0, message: `WebSocket to ${path} could not be opened (HTTP works)`, details: { httpReachable: true } });
  const tryRequest = async (request: () => Promise<unknown>): Promise<SpoolError | undefined> => {
    try {
      await request();
      return undefined;
    } catch (err) {
      return err instanceof SpoolError && err.code !== "UPGRADE_REQUIRED" ? err : undefined;
    }
  };
  const plain = await tryRequest(async () => (await http.send("GET", path, { query })).body?.cancel());
  return plain ?? (explain ? await tryRequest(explain) : undefined) ?? failed;
}

function wrap(raw: RawSocket, onFrame: (frame: Frame) => void, swapRefused: (code: number) => boolean): Socket {
  let resolve!: (info: CloseInfo) => void;
  const closed = new Promise<CloseInfo>((r) => (resolve = r));
  let done = false;
  const resolveClosed = (info: CloseInfo): void => {
    if (done) return;
    done = true;
    resolve({ ...info, swapRefused: swapRefused(info.code) });
  };
  raw.addEventListener("message", (event) => {
    const data = (event as { data?: unknown }).data;
    if (typeof data !== "string") return;
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (isRecord(frame)) onFrame(frame);
  });
  raw.addEventListener("close", (event) => {
    const e = event as { code?: number; reason?: string };
    resolveClosed({ code: e.code ?? 1006, reason: e.reason ?? "" });
  });
  raw.addEventListener("error", () => {
    // Browsers and Node follow an error with a close event; Workers may not.
    if (raw.readyState !== OPEN) resolveClosed({ code: 1006, reason: "error" });
  });
  return {
    closed,
    send(frame) {
      if (raw.readyState !== OPEN) return false;
      raw.send(JSON.stringify(frame));
      return true;
    },
    close(code = 1000, reason = "") {
      try {
        raw.close(code, reason);
      } catch {
        raw.close();
      }
      // Do not wait for the server's echo to count the socket as closed.
      resolveClosed({ code, reason });
    },
  };
}
