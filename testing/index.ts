/// <reference types="node" />
/**
 * `spool/testing`: Spool in a user's own tests, in Node, with no `wrangler dev`.
 *
 *   import { startSpool } from "spool/testing";
 *   await using spool = await startSpool();   // in-process Miniflare, fresh storage, 127.0.0.1, random port
 *   await spool.client.queue("jobs").send({ body: { n: 1 } });
 *   await spool.advanceTime(31_000);          // leases, delays, retention, dedup windows, retries fire
 *
 * `spoolWorkerOptions()` gives the Miniflare options of Spool's Worker for a user's own
 * Miniflare setup or as an auxiliary worker of `@cloudflare/vitest-plugin`, so their Workers
 * bind it (`serviceBindings: {SPOOL: {name: "spool", entrypoint: "SpoolEntrypoint"}}`).
 * `startSpool({workers})` runs the user's Workers beside Spool in the same Miniflare with
 * the clock under the test's control.
 *
 * The clock moves only in a test server: `advanceTime` talks to a control path of the Worker
 * that exists only with the `SPOOL_TEST_CONTROL` binding, a function in this process that
 * only Miniflare can provide (worker/test-control.ts says why a deployment cannot).
 * Miniflare (a peer dependency: the user's own, as wrangler and the vitest plugin bring it)
 * is loaded when a server starts.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Spool, type Capabilities } from "../client/index.js";
import { workerBundle, type WorkerConfig } from "./bundle.js";

/** Miniflare options of Spool's Worker (Miniflare 4's `WorkerOptions` shape; Miniflare 5 takes them through `convertV4MiniflareOptions`). */
export interface SpoolWorkerOptions {
  name: string;
  modules: true;
  scriptPath: string;
  /** The directory module names are relative to (the bundle's own: Miniflare's default is the working directory). */
  modulesRoot: string;
  compatibilityDate: string;
  compatibilityFlags: string[];
  bindings: Record<string, string>;
  durableObjects: Record<string, { className: string; useSQLite: boolean }>;
  serviceBindings?: Record<string, unknown>;
  unsafeDirectSockets?: { host: string; port: number }[];
}

export interface SpoolWorkerOptionsInput {
  /** The Worker's name, which other Workers bind (`{name, entrypoint: "SpoolEntrypoint"}`); "spool". */
  name?: string | undefined;
  /** Worker vars over the defaults (SPOOL_MAX_QUEUES, SPOOL_ALLOW_PRIVATE_WEBHOOKS, …). */
  vars?: Record<string, string> | undefined;
  /** The admin key for HTTP clients (a binding needs none); random by default. */
  adminKey?: string | undefined;
}

/** The name other Workers bind Spool under, and the entrypoint they bind. */
export const SPOOL_WORKER_NAME = "spool";
export const SPOOL_ENTRYPOINT = "SpoolEntrypoint";

/** Miniflare options that run Spool's Worker; give other Workers `{name, entrypoint: "SpoolEntrypoint"}` to bind it. */
export async function spoolWorkerOptions(input: SpoolWorkerOptionsInput = {}): Promise<SpoolWorkerOptions> {
  const { scriptPath, config } = await workerBundle();
  return workerOptions(scriptPath, config, input, input.adminKey ?? randomKey("admin"));
}

function workerOptions(scriptPath: string, config: WorkerConfig, input: SpoolWorkerOptionsInput, adminKey: string): SpoolWorkerOptions {
  return {
    name: input.name ?? SPOOL_WORKER_NAME,
    modules: true,
    scriptPath,
    modulesRoot: dirname(scriptPath),
    compatibilityDate: config.compatibilityDate,
    compatibilityFlags: config.compatibilityFlags,
    bindings: {
      ...config.vars,
      SPOOL_TOKEN_SECRET: randomKey("token-secret"),
      // A test's webhooks listen on 127.0.0.1.
      SPOOL_ALLOW_PRIVATE_WEBHOOKS: "true",
      ...input.vars,
      SPOOL_ADMIN_KEY: adminKey,
    },
    durableObjects: config.durableObjects,
  };
}

function randomKey(what: string): string {
  return `spool-test-${what}-${randomBytes(18).toString("base64url")}`;
}

export interface StartSpoolOptions extends SpoolWorkerOptionsInput {
  /** Keep state in this directory across servers (default: a fresh temp dir, removed on dispose). */
  persist?: string | undefined;
  /**
   * The user's own Workers to run beside Spool in the same Miniflare (Miniflare `WorkerOptions`,
   * each with its own `name`); they bind Spool as `{name: "spool", entrypoint: "SpoolEntrypoint"}`
   * and are reached with `spool.workerUrl(name)`.
   */
  workers?: Record<string, unknown>[] | undefined;
}

export interface TokenOptions {
  /** Seconds (3600). */
  ttl?: number | undefined;
  /** Default: every action on every queue and topic. */
  capabilities?: Capabilities | undefined;
}

export interface SpoolTestServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`: Spool's HTTP API. */
  readonly url: string;
  readonly adminKey: string;
  /** A Spool SDK client with the admin key. */
  readonly client: Spool;
  /** Mints a capability token (all actions on all queues and topics unless `capabilities` says less). */
  token(options?: TokenOptions): Promise<string>;
  /**
   * Moves Spool's clock `ms` forward and runs what falls due on the way, in deadline order:
   * leases end, delayed messages appear, retention and dedup windows expire, webhook
   * retries and forwards run — as if that much time had passed. Resolves when nothing is due.
   */
  advanceTime(ms: number): Promise<void>;
  /** Resolves when nothing is due and no forward is pending. */
  settle(): Promise<void>;
  /** Deletes every queue and topic (the server keeps running, at the same URL). */
  reset(): Promise<void>;
  /** The URL of one of `workers` (its own socket on 127.0.0.1). */
  workerUrl(name: string): Promise<string>;
  /** Stops Miniflare and removes the temp storage (not a `persist` directory). */
  close(): Promise<void>;
}

/** The parts of Miniflare the kit uses (it is loaded at run time: the user's own version). */
interface MiniflareLike {
  ready: Promise<URL>;
  unsafeGetDirectURL(workerName?: string): Promise<URL>;
  listDurableObjectIds(binding: string, workerName?: string): Promise<string[]>;
  dispose(): Promise<void>;
}
interface MiniflareModule {
  Miniflare: new (options: unknown) => MiniflareLike;
  convertV4MiniflareOptions?: (options: unknown) => unknown;
  Log?: new (level: number) => unknown;
  LogLevel?: { WARN: number };
}

/** A variable, not a literal: the compiler must not pull Miniflare's own types (a peer's, any version) into the build. */
const MINIFLARE = "miniflare";
const CONTROL_PATH = "/__spool/test/advance";
const CONTROL_KEY_HEADER = "spool-test-control";
/** Rounds of `settle` before it gives up waiting for work that keeps making more. */
const SETTLE_ROUNDS = 20;
/** Pages `reset` deletes at most (100 names each). */
const RESET_ROUNDS = 1_000;

/** Starts Spool in-process under Miniflare: fresh storage (unless `persist`), 127.0.0.1, a random port. */
export async function startSpool(options: StartSpoolOptions = {}): Promise<SpoolTestServer> {
  const mod = (await import(MINIFLARE)) as MiniflareModule;
  const { scriptPath, config } = await workerBundle();
  const adminKey = options.adminKey ?? randomKey("admin");
  const name = options.name ?? SPOOL_WORKER_NAME;
  const storage = options.persist ?? mkdtempSync(join(tmpdir(), "spool-test-"));
  const controlKey = randomUUID();
  const spoolWorker: SpoolWorkerOptions = {
    ...workerOptions(scriptPath, config, options, adminKey),
    // The clock control's key, from a function in this process: what a deployment cannot bind.
    serviceBindings: { SPOOL_TEST_CONTROL: () => new Response(controlKey) },
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
  };
  const users = (options.workers ?? []).map((w) => ({ unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }], ...w }));
  const v4 = {
    host: "127.0.0.1",
    port: 0,
    cf: false,
    resourcePersistencePath: storage,
    ...(mod.Log && mod.LogLevel ? { log: new mod.Log(mod.LogLevel.WARN) } : {}),
    workers: [spoolWorker, ...users],
  };
  const mf = new mod.Miniflare(mod.convertV4MiniflareOptions ? mod.convertV4MiniflareOptions(v4) : v4);
  let url: string;
  try {
    await mf.ready;
    url = (await mf.unsafeGetDirectURL(name)).origin.replace("localhost", "127.0.0.1");
  } catch (err) {
    await mf.dispose().catch(() => {});
    if (!options.persist) rmSync(storage, { recursive: true, force: true });
    throw err;
  }
  const client = new Spool({ url, token: adminKey });

  const control = async (ms: number): Promise<{ ran: number; quiet: boolean }> => {
    const objects: Record<string, string[]> = {};
    for (const binding of Object.keys(config.durableObjects)) objects[binding] = await mf.listDurableObjectIds(binding, name);
    const res = await fetch(`${url}${CONTROL_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json", [CONTROL_KEY_HEADER]: controlKey },
      body: JSON.stringify({ ms, objects }),
    });
    if (!res.ok) throw new Error(`spool/testing: the clock control answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as { ran: number; quiet: boolean };
  };
  const settle = async (): Promise<void> => {
    for (let i = 0; i < SETTLE_ROUNDS; i++) if ((await control(0)).quiet) return;
  };

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await client.close().catch(() => {});
      await mf.dispose();
      if (!options.persist) rmSync(storage, { recursive: true, force: true });
    })();
    return closing;
  };

  return {
    url,
    adminKey,
    client,
    async token(t = {}) {
      const all: Capabilities = { "queues/*": ["send", "receive", "manage"], "topics/*": ["publish", "subscribe", "consume", "manage"] };
      return (await client.createToken({ ttl: t.ttl ?? 3600, capabilities: t.capabilities ?? all })).token;
    },
    async advanceTime(ms) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError("advanceTime: ms must be a finite number ≥ 0 (the clock only moves forward)");
      if (!(await control(ms)).quiet) await settle();
    },
    settle,
    async reset() {
      // Pages of names, deleted as they come: a deleted name leaves the list, so the first page is asked again.
      for (let round = 0; round < RESET_ROUNDS; round++) {
        const page = await client.queues();
        if (page.length === 0) break;
        await Promise.all(page.map((q) => client.queue(q.name).delete()));
      }
      for (let round = 0; round < RESET_ROUNDS; round++) {
        const page = await client.topics();
        if (page.length === 0) break;
        await Promise.all(page.map((t) => client.topic(t.name).delete()));
      }
    },
    async workerUrl(worker) {
      return (await mf.unsafeGetDirectURL(worker)).origin.replace("localhost", "127.0.0.1");
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
