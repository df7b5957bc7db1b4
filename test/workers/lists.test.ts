// Paged lists (API.md, Conventions → Lists): GET /v1/queues and GET /v1/topics take
// `?limit=` 1–1000 (100) and `?cursor=`, answer in name order with `next` while more remain,
// and call no more objects than the page holds.
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Catalog } from "../../durable-objects/catalog/catalog";
import { callJson, errorCode, uniqueName } from "./helpers";

type Page = { status: number; body: { next?: string } & Record<string, Array<{ name: string }>> };

/** Every entry of a list, page by page; checks each page's size and order. */
async function walk(kind: "queues" | "topics", limit: number): Promise<{ names: string[]; pages: number }> {
  const names: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const r = (await callJson("GET", `/v1/${kind}?limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`)) as Page;
    expect(r.status).toBe(200);
    const page = r.body[kind]!.map((e) => e.name);
    expect(page.length).toBeLessThanOrEqual(limit);
    names.push(...page);
    pages++;
    if (r.body.next === undefined) return { names, pages };
    expect(page.length).toBe(limit);
    cursor = r.body.next;
  }
}

describe("lists", () => {
  it("lists - GET /v1/queues pages in name order with next while more remain, each queue once", async () => {
    const prefix = uniqueName("page");
    const mine = ["c", "a", "e", "b", "d"].map((s) => `${prefix}-${s}`);
    for (const q of mine) await callJson("PUT", `/v1/queues/${q}`, { body: {} });
    const { names, pages } = await walk("queues", 2);
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(names).toEqual([...names].sort());
    expect(new Set(names).size).toBe(names.length);
    expect(names.filter((n) => n.startsWith(prefix))).toEqual([...mine].sort());
    // A page starts after its cursor, and each listed queue carries its stats.
    const after = await callJson("GET", `/v1/queues?cursor=${mine.sort()[1]}&limit=1`);
    expect(after.body.queues).toEqual([{ name: `${prefix}-c`, stats: expect.objectContaining({ messages: 0 }) }]);
  });

  it("lists - GET /v1/topics pages from the Catalog alone, with partition counts", async () => {
    const prefix = uniqueName("page");
    for (const [s, partitions] of [["x", 1], ["y", 3], ["z", 2]] as const) {
      await callJson("PUT", `/v1/topics/${prefix}-${s}`, { body: { partitions } });
    }
    const { names } = await walk("topics", 1);
    expect(names.filter((n) => n.startsWith(prefix))).toEqual([`${prefix}-x`, `${prefix}-y`, `${prefix}-z`]);
    const page = await callJson("GET", `/v1/topics?cursor=${prefix}-x&limit=2`);
    expect(page.body.topics).toEqual([{ name: `${prefix}-y`, partitions: 3 }, { name: `${prefix}-z`, partitions: 2 }]);
  });

  it("lists - the default page holds 100 and a list that fits has no next", async () => {
    const r = await callJson("GET", "/v1/queues");
    expect(r.status).toBe(200);
    expect(r.body.queues.length).toBeLessThanOrEqual(100);
    const all = await callJson("GET", "/v1/topics?limit=1000");
    expect(all.body.next).toBeUndefined();
  });

  it("lists - a page of queues holds at most limit entries: a stale Catalog entry is left out, not replaced from the next page", async () => {
    // A name the Catalog lists but no queue holds is asked about and left out; the page does
    // not reach past `limit` names to fill its place (one object call per listed name).
    const prefix = uniqueName("stale");
    await runInDurableObject(env.CATALOG.getByName("catalog"), (c: Catalog) => {
      c.register("queues", `${prefix}-a`, 0, {}, true);
      c.register("queues", `${prefix}-b`, 0, {}, true);
    });
    await callJson("PUT", `/v1/queues/${prefix}-c`, { body: {} });
    const r = await callJson("GET", `/v1/queues?cursor=${prefix}&limit=2`);
    expect(r.body.queues).toEqual([]);
    expect(r.body.next).toBe(`${prefix}-b`);
    const rest = await callJson("GET", `/v1/queues?cursor=${r.body.next}&limit=1`);
    expect(rest.body.queues.map((e: { name: string }) => e.name)).toEqual([`${prefix}-c`]);
  });

  it("lists - limit outside 1–1000 or a malformed cursor is 400 VALIDATION_FAILED", async () => {
    for (const kind of ["queues", "topics"]) {
      for (const query of ["limit=0", "limit=1001", "limit=x", "cursor=has%20space"]) {
        const r = await callJson("GET", `/v1/${kind}?${query}`);
        expect(r.status, `${kind}?${query}`).toBe(400);
        expect(errorCode(r.body)).toBe("VALIDATION_FAILED");
      }
    }
  });
});
