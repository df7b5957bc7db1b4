// The client against a real server: tokens (minting, refresh before expiry and on 401,
// expiry of a live stream), typed auth errors, and the HTTP retry rules.
import { afterAll, describe, expect, it } from "vitest";
import {
  AuthError, BackpressureError, ConnectionError, ERROR_FAMILIES, ErrorCodes, InvalidRequestError, NotFoundError, ReceiptError,
  ServerError, Spool, SpoolError, type ConnectionStatus, type ErrorCode,
} from "../../client";
import { adminClient, loggingFetch, mintToken, take, unique, until, url, type LoggedRequest } from "./client-support";

const spool = adminClient();
afterAll(() => spool.close());

describe("client auth", () => {
  it("client auth - createToken mints a scoped token: allowed calls pass, others are AuthError 403", async () => {
    const name = unique("chat");
    const { token, expiresAt } = await spool.createToken({ ttl: 60, capabilities: { [`topics/${name}`]: ["publish", "subscribe"] } });
    expect(expiresAt).toBeGreaterThan(Date.now());
    const browser = new Spool({ url: url(), token });
    expect((await browser.topic(name).publish({ body: "hi" })).offset).toBe(0);
    const denied = await browser.topic(unique("other")).publish({ body: "no" }).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(AuthError);
    expect(denied).toMatchObject({ code: "FORBIDDEN", status: 403 });
    await expect(browser.createToken({ ttl: 60, capabilities: { "topics/*": ["manage"] } })).rejects.toMatchObject({ status: 403 });
    await browser.close();
  });

  it("client auth - a fixed bad credential is AuthError 401, sent once", async () => {
    const log: LoggedRequest[] = [];
    const client = new Spool({ url: url(), token: "not-a-token", fetch: loggingFetch(log) });
    const err = await client.topics().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect(err).toMatchObject({ code: "UNAUTHORIZED", status: 401 });
    expect(log).toHaveLength(1);
    await client.close();
  });

  it("client auth - getToken is asked again after a 401 and the request is repeated with the new token", async () => {
    const name = unique("t");
    const good = await mintToken({ [`topics/${name}`]: ["publish"] });
    const handed: string[] = [];
    const log: LoggedRequest[] = [];
    const client = new Spool({
      url: url(),
      fetch: loggingFetch(log),
      getToken: () => {
        const t = handed.length === 0 ? "revoked-token" : good.token;
        handed.push(t);
        return t;
      },
    });
    expect((await client.topic(name).publish({ body: 1 })).offset).toBe(0);
    expect(handed).toEqual(["revoked-token", good.token]);
    expect(log.map((e) => e.status)).toEqual([401, 201]);
    await client.close();
  });

  it("client auth - a short-lived token is refreshed before it expires (from its expiresAt or the JWT exp)", async () => {
    for (const shape of ["object", "jwt"] as const) {
      const name = unique("t");
      const calls: { at: number; expiresAt: number }[] = [];
      const log: LoggedRequest[] = [];
      const client = new Spool({
        url: url(),
        fetch: loggingFetch(log),
        getToken: async () => {
          const t = await mintToken({ [`topics/${name}`]: ["publish"] }, 6); // refreshed in its last 1.2 s
          calls.push({ at: Date.now(), expiresAt: t.expiresAt });
          return shape === "object" ? t : t.token;
        },
      });
      const topic = client.topic(name);
      while (calls.length < 2) {
        await topic.publish({ body: shape });
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(calls[1]!.at).toBeLessThan(calls[0]!.expiresAt); // asked for a new one while the old still worked
      expect(log.filter((e) => e.status === 401)).toEqual([]);
      await client.close();
    }
  }, 40_000);

  it("client auth - a live subscription whose token expires is closed (4001), refreshes and resumes without gap or duplicate", async () => {
    const name = unique("t");
    // A token source with nothing fresher to give until the token has expired, so no swap can happen in time.
    let current: { token: string; expiresAt: number } | undefined;
    const client = new Spool({
      url: url(),
      getToken: async () => {
        if (!current || Date.now() >= current.expiresAt) current = await mintToken({ [`topics/${name}`]: ["subscribe", "publish"] }, 2);
        return current;
      },
    });
    const statuses: ConnectionStatus[] = [];
    const watch = (async () => {
      for await (const s of client.status()) statuses.push(s);
    })();
    const topic = spool.topic<number>(name);
    await topic.publish({ body: 0 });
    const sub = client.topic<number>(name).subscribe({ from: "earliest" });
    const it = sub[Symbol.asyncIterator]();
    const got = await take(it, 1);
    await until(() => statuses.some((s) => s.type === "disconnected" && s.code === 4001), "the server to close the expired socket", 20_000);
    for (let n = 1; n <= 3; n++) await topic.publish({ body: n });
    got.push(...(await take(it, 3)));
    expect(got.map((m) => [m.offset, m.body])).toEqual([[0, 0], [1, 1], [2, 2], [3, 3]]);
    expect(statuses.filter((s) => s.type === "connected").length).toBeGreaterThanOrEqual(2);
    await client.close();
    await watch;
  }, 30_000);
});

describe("client auth - credentials on open sockets", () => {
  it("client auth - a live subscription swaps its token before it expires ({type: auth}): no reconnect, no gap, no duplicate", async () => {
    const name = unique("t");
    const handed: string[] = [];
    const client = new Spool({
      url: url(),
      getToken: async () => {
        const t = await mintToken({ [`topics/${name}`]: ["subscribe"] }, 3);
        handed.push(t.token);
        return t;
      },
    });
    const statuses: ConnectionStatus[] = [];
    const watch = (async () => {
      for await (const s of client.status()) statuses.push(s);
    })();
    const topic = spool.topic<number>(name);
    await topic.publish({ body: 0 });
    const sub = client.topic<number>(name).subscribe({ from: "earliest" });
    const it = sub[Symbol.asyncIterator]();
    const got = await take(it, 1);
    // Outlive two tokens, publishing all along.
    for (let n = 1; n <= 7; n++) {
      await new Promise((r) => setTimeout(r, 1000));
      await topic.publish({ body: n });
    }
    got.push(...(await take(it, 7)));
    expect(got.map((m) => m.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(handed.length).toBeGreaterThanOrEqual(3);
    expect(statuses.filter((s) => s.type === "disconnected" || s.type === "reconnecting")).toEqual([]);
    expect(statuses.filter((s) => s.type === "connected")).toHaveLength(1);
    await client.close();
    await watch;
  }, 30_000);
});

describe("client auth - consumer sockets", () => {
  it("client auth - a queue consumer swaps its token in place too: it outlives two tokens without reconnecting", async () => {
    const name = unique("q");
    await spool.queue(name).configure();
    const client = new Spool({ url: url(), getToken: () => mintToken({ [`queues/${name}`]: ["receive"] }, 3) });
    const statuses: ConnectionStatus[] = [];
    const watch = (async () => {
      for await (const s of client.status()) statuses.push(s);
    })();
    const seen: number[] = [];
    const consumer = client.queue<number>(name).consume(async (m) => void seen.push(m.body));
    for (let n = 0; n < 7; n++) {
      await spool.queue<number>(name).send({ body: n });
      await new Promise((r) => setTimeout(r, 1000));
    }
    await until(() => seen.length === 7, "every message");
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(statuses.filter((s) => s.type === "disconnected" || s.type === "reconnecting")).toEqual([]);
    await consumer.close();
    await client.close();
    await watch;
  }, 30_000);
});

describe("client errors and retries", () => {
  it("client errors - every API code has a family, and the classes follow the code", () => {
    for (const code of Object.keys(ErrorCodes) as ErrorCode[]) expect(ERROR_FAMILIES[code], code).toBeDefined();
    expect(ERROR_FAMILIES.QUEUE_FULL).toBe(BackpressureError);
    expect(ERROR_FAMILIES.RECEIPT_INVALID).toBe(ReceiptError);
    expect(ERROR_FAMILIES.NOT_FOUND).toBe(NotFoundError);
    expect(ERROR_FAMILIES.VALIDATION_FAILED).toBe(InvalidRequestError);
    expect(ERROR_FAMILIES.NOT_CONFIGURED).toBe(ServerError);
  });

  it("client errors - 503 is retried honouring Retry-After, up to the bound", async () => {
    const answers = [503, 503, 200];
    const seen: number[] = [];
    const client = new Spool({
      url: "http://spool.invalid",
      token: "k",
      fetch: async () => {
        const status = answers.shift()!;
        seen.push(Date.now());
        return status === 200
          ? Response.json({ ok: true, version: "x" })
          : Response.json({ error: { code: "NOT_CONFIGURED", message: "later" } }, { status, headers: { "retry-after": "1" } });
      },
    });
    expect(await client.health()).toEqual({ ok: true, version: "x" });
    expect(seen).toHaveLength(3);
    expect(seen[1]! - seen[0]!).toBeGreaterThanOrEqual(1000);
    const bounded = new Spool({
      url: "http://spool.invalid", token: "k", retry: { maxAttempts: 2 },
      fetch: async () => Response.json({ error: { code: "NOT_CONFIGURED", message: "no" } }, { status: 503, headers: { "retry-after": "0" } }),
    });
    await expect(bounded.health()).rejects.toMatchObject({ code: "NOT_CONFIGURED", status: 503, retryAfter: 0 });
    const tooLong = new Spool({
      url: "http://spool.invalid", token: "k", retry: { maxWaitMs: 5_000 },
      fetch: async () => Response.json({ error: { code: "RATE_LIMITED", message: "slow down" } }, { status: 429, headers: { "retry-after": "3600" } }),
    });
    const err = await tooLong.health().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackpressureError);
    expect((err as SpoolError).retryAfter).toBe(3600);
    await Promise.all([client.close(), bounded.close(), tooLong.close()]);
  });

  it("client errors - network failures are retried for idempotent calls only", async () => {
    let calls = 0;
    const client = new Spool({
      url: "http://spool.invalid",
      token: "k",
      fetch: async () => {
        calls++;
        throw new TypeError("fetch failed");
      },
    });
    await expect(client.queue("q").send({ body: 1 })).rejects.toBeInstanceOf(ConnectionError);
    expect(calls).toBe(4); // sends carry ids: safe to repeat
    calls = 0;
    await expect(client.queue("q").receive()).rejects.toBeInstanceOf(ConnectionError);
    expect(calls).toBe(1); // a lost receive answer must not lease twice
    await client.close();
  });

  it("client errors - calls after close() fail with ClosedError", async () => {
    const client = adminClient();
    await client.close();
    await expect(client.topics()).rejects.toMatchObject({ code: "CLOSED" });
  });
});
