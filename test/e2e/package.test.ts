/**
 * `spool/client` as a user gets it: the repository is packed (`npm pack`, which runs
 * `prepare` and so builds dist/) and the tarball installed into a scratch project, where
 *   - a strict TypeScript user (`strict`, `exactOptionalPropertyTypes`,
 *     `noUncheckedIndexedAccess`, declarations checked: no `skipLibCheck`) compiles against it
 *     with `moduleResolution` NodeNext (a Node project) and Bundler (a browser project);
 *   - plain `node` imports it and follows every partition of a topic on the running server;
 *   - esbuild bundles it for the browser from the compiled files alone (gzip size reported).
 *
 * The tarball is installed without its dependencies (client-package.ts says why): a
 * project that has none of them is the proof the client needs none.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { beforeAll, describe, expect, it } from "vitest";
import { installInto, packRepository, sh } from "./client-package";
import { adminKey, unique, url } from "./helpers";

/** What the bundle may weigh, gzipped (10.9 KB before round 2; 12.3 KB with whole-topic subscriptions, server-owned leases and the stores). */
const BUNDLE_GZIP_BUDGET = 14 * 1024;

let project = "";
let installed = "";

beforeAll(async () => {
  project = await installInto(await packRepository(), { tools: ["typescript", "@types/node"] });
  installed = join(project, "node_modules", "spool");
}, 120_000);

describe("package", () => {
  it("package - the tarball holds compiled ES modules and declarations behind `exports`, and no server dependency is needed", () => {
    const pkg = JSON.parse(readFileSync(join(installed, "package.json"), "utf8")) as { exports: Record<string, { types: string; default: string }> };
    const entry = pkg.exports["./client"]!;
    expect(entry.types).toMatch(/\.d\.ts$/);
    expect(entry.default).toMatch(/\.js$/);
    const files = readdirSync(join(installed, "dist"), { recursive: true, encoding: "utf8" });
    expect(files).toContain(join("client", "index.js"));
    expect(files).toContain(join("client", "index.d.ts"));
    expect(files).toContain(join("protocol", "errors.js"));
    // Nothing the client ships imports a package: only relative `.js` files (what Node's ESM loader and NodeNext
    // demand). spool/testing (dist/testing/, Node only) imports Node's built-ins: test/e2e/testing-kit.test.ts.
    const bare: string[] = [];
    for (const f of files.filter((f) => (f.endsWith(".js") || f.endsWith(".d.ts")) && !f.startsWith(`testing${sep}`))) {
      const text = readFileSync(join(installed, "dist", f), "utf8");
      // Statements start a line in emitted code; examples in doc comments do not.
      for (const m of text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']|^import\s*["']([^"']+)["']/gm)) {
        const spec = m[1] ?? m[2]!;
        if (!spec.startsWith("./") && !spec.startsWith("../")) bare.push(`${f}: ${spec}`);
        else if (!spec.endsWith(".js")) bare.push(`${f}: ${spec} (no .js extension)`);
      }
    }
    expect(bare).toEqual([]);
    expect(readdirSync(join(project, "node_modules"))).not.toContain("hono");
  });

  for (const mode of ["NodeNext", "Bundler"] as const) {
    it(`package - a strict TypeScript project type-checks against it with moduleResolution ${mode}`, async () => {
      const dir = join(project, mode.toLowerCase());
      mkdirSync(dir, { recursive: true });
      const node = mode === "NodeNext";
      writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
        compilerOptions: {
          target: "ES2022", module: node ? "NodeNext" : "ESNext", moduleResolution: mode,
          lib: node ? ["ES2023"] : ["ES2023", "DOM", "DOM.Iterable"], types: node ? ["node"] : [],
          strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, skipLibCheck: false, noEmit: true,
        },
        include: ["*.ts"],
      }));
      writeFileSync(join(dir, "app.ts"), USER_APP);
      if (node) writeFileSync(join(dir, "server.ts"), NODE_ONLY);
      const tsc = join(project, "node_modules", "typescript", "bin", "tsc");
      await sh(process.execPath, [tsc, "-p", "."], dir);
    }, 60_000);
  }

  it("package - plain node imports it and a subscription follows every partition of a topic", async () => {
    writeFileSync(join(project, "follow.mjs"), FOLLOW_SCRIPT);
    const out = await sh(process.execPath, ["follow.mjs", url(), adminKey(), unique("pkg")], project);
    const result = JSON.parse(out.trim().split("\n").pop()!) as { count: number; partitions: number[]; positions: Record<string, number>; ordered: boolean };
    expect(result.count).toBe(40);
    expect(result.partitions).toEqual([0, 1, 2, 3]);
    expect(result.ordered).toBe(true);
    const resumeTotal = Object.values(result.positions).reduce((a, b) => a + b, 0);
    expect(resumeTotal).toBe(40);
  }, 60_000);

  it("package - esbuild bundles it for the browser from the compiled files alone (gzip size reported)", async () => {
    writeFileSync(join(project, "browser.js"), `import { Spool } from "spool/client";\nwindow.spool = new Spool({ url: location.origin, getToken: () => fetch("/token").then((r) => r.text()) });\n`);
    const result = await build({
      entryPoints: [join(project, "browser.js")], absWorkingDir: project, bundle: true, minify: true, format: "esm",
      platform: "browser", write: false, metafile: true, logLevel: "silent",
    });
    const inputs = Object.keys(result.metafile.inputs).map((f) => relative(project, resolve(project, f)));
    expect(inputs.filter((f) => f !== "browser.js" && !f.startsWith(join("node_modules", "spool", "dist") + "/"))).toEqual([]);
    const code = result.outputFiles[0]!.contents;
    const gzip = gzipSync(code).length;
    console.log(`spool/client browser bundle: ${(code.length / 1024).toFixed(1)} KB minified, ${(gzip / 1024).toFixed(1)} KB gzip`);
    expect(gzip).toBeLessThan(BUNDLE_GZIP_BUDGET);
  }, 60_000);
});

/** A user's code touching most of the public surface, with optional fields given `undefined` as strict code does. */
const USER_APP = `
import {
  Spool, NotFoundError, GapError, idempotent, MemoryStore, type ConnectionStatus, type TopicMessage, type QueueMessage,
  type SubscribeOptions, type ConsumeOptions, type Positions,
} from "spool/client";

interface Order { id: number; total: number }
const maybe = (n: number): number | undefined => (n > 0 ? n : undefined);

export async function main(url: string, getToken: () => Promise<string>): Promise<void> {
  await using spool = new Spool({ url, getToken, retry: { maxAttempts: maybe(3) } });
  const orders = spool.topic<Order>("orders");
  await orders.publish({ body: { id: 1, total: 30 }, key: "customer-1" });
  const saved: Positions = { 0: 5 };
  const options: SubscribeOptions = { from: saved, partition: maybe(0), onGap: (g) => console.log(g.partition, g.from, g.to) };
  const sub = orders.subscribe(options);
  for await (const m of sub) {
    const order: TopicMessage<Order> = m;
    console.log(order.partition, order.offset, order.body.total, sub.state, sub.positions);
    break;
  }
  const error = await sub.closed;
  if (error instanceof GapError || error instanceof NotFoundError) console.log(error.code);

  const jobs = spool.queue<{ task: string }>("jobs");
  await jobs.send({ body: { task: "resize" }, delay: maybe(0) });
  const consumeOptions: ConsumeOptions<{ task: string }> = { prefetch: maybe(10), waitForQueue: true, onError: (e, m) => console.log(e, m?.id) };
  await using consumer = jobs.consume(idempotent(async (m: QueueMessage<{ task: string }>, { signal, idempotencyKey }) => {
    if (!signal.aborted) console.log(m.body.task, idempotencyKey);
  }, new MemoryStore()), consumeOptions);
  const group = orders.group("billing");
  const [first] = await group.receive({ max: 10, wait: maybe(1) });
  if (first) await group.nack(first, { delay: 5 });
  for await (const s of spool.status()) {
    const status: ConnectionStatus = s;
    if (status.type === "closed") break;
  }
  console.log(consumer.counts.processed, await orders.partitions());
}
`;

/** Node-only: the durable idempotency store on node:sqlite. */
const NODE_ONLY = `
import { DatabaseSync } from "node:sqlite";
import { sqliteStore, type IdempotencyStore } from "spool/client";
export const store: IdempotencyStore = sqliteStore(new DatabaseSync(":memory:"));
`;

/** Plain Node against the running server: publish across 4 partitions, follow all of them. */
const FOLLOW_SCRIPT = `
import { Spool } from "spool/client";
const [url, key, name] = process.argv.slice(2);
const spool = new Spool({ url, token: key });
const topic = spool.topic(name);
await topic.configure({ partitions: 4 });
const sub = topic.subscribe({ from: "earliest" });
await topic.publish(Array.from({ length: 40 }, (_, i) => ({ body: i, key: "k" + i })));
const got = [];
for await (const m of sub) {
  got.push(m);
  if (got.length === 40) break;
}
const ordered = [0, 1, 2, 3].every((p) => got.filter((m) => m.partition === p).every((m, i, all) => i === 0 || all[i - 1].offset < m.offset));
console.log(JSON.stringify({ count: got.length, partitions: [...new Set(got.map((m) => m.partition))].sort(), positions: sub.positions, ordered }));
await spool.close();
`;
