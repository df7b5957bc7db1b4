/**
 * The `spool` command line against a real server: every command does what its help says,
 * prints JSON lines a script can read, and exits with codes a script can rely on (0 done,
 * 1 refused by the server, 2 wrong command line, 3 unreachable, 130 interrupted). It runs
 * on the Node 22 npm installs and on the machine's own older Node (20) alike.
 */
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { HAS_PTY, jsonLines, runSpool, screen, SPOOL_BIN, startSpool, systemNodeOlderThan22 } from "./cli-support";
import { adminKey, unique, url } from "./helpers";
import { until } from "./client-support";
import { startServer, type LocalServer } from "./server";

const server = (): NodeJS.ProcessEnv => ({ SPOOL_URL: url(), SPOOL_KEY: adminKey() });
const node20 = systemNodeOlderThan22();

describe("spool command line", () => {
  it("cli - send and receive --ack: one JSON object per line, exit 0, queue empty after", async () => {
    const q = unique("cli-jobs");
    const sent = await runSpool(["send", q, '{"task":"resize","img":1}', "--header", "prio=low", "--id", "img-1"], { env: server() });
    expect(sent.code, sent.stderr).toBe(0);
    expect(jsonLines(sent.stdout)).toEqual([{ id: "img-1", seq: 1, duplicate: false }]);
    const again = await runSpool(["send", q, '{"task":"resize","img":1}', "--id", "img-1"], { env: server() });
    expect(jsonLines(again.stdout)).toEqual([{ id: "img-1", seq: 1, duplicate: true }]);
    const got = await runSpool(["receive", q, "--max", "10", "--ack"], { env: server() });
    expect(got.code, got.stderr).toBe(0);
    expect(jsonLines(got.stdout)).toMatchObject([{ id: "img-1", body: { task: "resize", img: 1 }, headers: { prio: "low" }, attempts: 1 }]);
    const info = jsonLines(( await runSpool(["info", q, "--queue"], { env: server() })).stdout);
    expect(info[0]).toMatchObject({ name: q, stats: { messages: 0, acked: 1 } });
  });

  it("cli - send - reads one message per stdin line, in batches, and reports a bad line by number", async () => {
    const q = unique("cli-bulk");
    const lines = Array.from({ length: 2500 }, (_, i) => JSON.stringify({ n: i })).join("\n");
    const sent = await runSpool(["send", q, "-"], { env: server(), input: `${lines}\n` });
    expect(sent.code, sent.stderr).toBe(0);
    const results = jsonLines<{ seq: number }>(sent.stdout);
    expect(results.map((r) => r.seq)).toEqual(Array.from({ length: 2500 }, (_, i) => i + 1));
    expect(sent.stderr).toBe(""); // no progress when stderr is not a terminal
    const bad = await runSpool(["send", q], { env: server(), input: '{"n":1}\nnot json\n' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("line 2 is not JSON");
  });

  it.skipIf(!HAS_PTY)("cli - send - on a terminal, a large send shows progress and ends with one summary line", async () => {
    const q = unique("cli-tty");
    const file = join(mkdtempSync(join(tmpdir(), "spool-cli-")), "messages.ndjson");
    writeFileSync(file, Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ n: i, pad: "x".repeat(100) })).join("\n"));
    const run = await runSpool(["send", q, "-"], { env: server(), tty: true, stdinFile: file, timeoutMs: 60_000 });
    expect(run.code, run.stdout).toBe(0);
    const lines = screen(run.stdout).split("\n").filter((l) => l.trim() !== "");
    expect(lines.at(-1)).toMatch(new RegExp(`sent 20,000 messages to ${q} in \\d+\\.\\d s$`));
    expect(lines.filter((l) => l.includes("{")), "a terminal gets the summary, not 20,000 lines").toEqual([]);
    const info = jsonLines<{ stats: { sent: number } }>((await runSpool(["info", q, "--queue"], { env: server() })).stdout);
    expect(info[0]!.stats.sent).toBe(20_000);
  }, 90_000);

  it("cli - exit codes: 2 for a wrong command line, 1 with the API's code when refused, 3 when unreachable", async () => {
    const usage = await runSpool(["send"], { env: server() });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^spool send: missing argument/);
    const unknown = await runSpool(["sned", "q"], { env: server() });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'sned'");
    const notJson = await runSpool(["send", "q", "hello"], { env: server() });
    expect(notJson.code).toBe(2);
    const missing = await runSpool(["receive", unique("never-created")], { env: server() });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^spool: NOT_FOUND: /);
    const badKey = await runSpool(["ls"], { env: { SPOOL_URL: url(), SPOOL_KEY: "wrong" } });
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toContain("UNAUTHORIZED");
    const down = await runSpool(["ls", "--url", "http://127.0.0.1:9", "--key", "k"]);
    expect(down.code).toBe(3);
    expect(down.stderr).toContain("cannot reach http://127.0.0.1:9");
    expect(down.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("cli - --help for every command, exit 0", async () => {
    const overview = await runSpool(["--help"]);
    expect(overview.code).toBe(0);
    const commands = [...overview.stdout.matchAll(/^ {2}(\w+) /gm)].map((m) => m[1]!);
    expect(commands).toEqual(["send", "receive", "purge", "redrive", "publish", "tail", "read", "ls", "info", "token", "keys"]);
    for (const c of commands) {
      const help = await runSpool([c, "--help"]);
      expect(help.code, c).toBe(0);
      expect(help.stdout, c).toMatch(new RegExp(`^usage: spool ${c}`));
    }
  }, 60_000);

  it("cli - publish, read and ls: keys pick partitions, read pages through, ls lists both kinds", async () => {
    const t = unique("cli-orders");
    expect((await runSpool(["publish", t, '{"order":1}', "--key", "customer-1"], { env: server() })).code).toBe(0);
    const lines = Array.from({ length: 1500 }, (_, i) => JSON.stringify({ i })).join("\n");
    const bulk = await runSpool(["publish", t, "-"], { env: server(), input: lines });
    expect(jsonLines(bulk.stdout)).toHaveLength(1500);
    const read = await runSpool(["read", t], { env: server() });
    const messages = jsonLines<{ offset: number; key: string | null }>(read.stdout);
    expect(messages.map((m) => m.offset)).toEqual(Array.from({ length: 1501 }, (_, i) => i));
    expect(messages[0]!.key).toBe("customer-1");
    const limited = await runSpool(["read", t, "--from", "1000", "--limit", "3"], { env: server() });
    expect(jsonLines<{ offset: number }>(limited.stdout).map((m) => m.offset)).toEqual([1000, 1001, 1002]);
    const listed = jsonLines<{ type: string; name: string }>((await runSpool(["ls"], { env: server() })).stdout);
    expect(listed).toContainEqual(expect.objectContaining({ type: "topic", name: t, partitions: 1 }));
    expect(listed.some((x) => x.type === "queue")).toBe(true);
  });

  it("cli - tail follows every partition, one JSON line per message, and stops on Ctrl-C with 130", async () => {
    const t = unique("cli-tail");
    await runSpool(["publish", t, '{"n":0}'], { env: server() });
    const configure = await fetch(`${url()}/v1/topics/${t}`, { method: "PUT", headers: { authorization: `Bearer ${adminKey()}`, "content-type": "application/json" }, body: '{"partitions":3}' });
    expect(configure.status).toBe(200);
    const tail = startSpool(["tail", t, "--from", "earliest"], { env: server() });
    for (const key of ["a", "b", "c", "d", "e", "f"]) await runSpool(["publish", t, JSON.stringify({ key }), "--key", key], { env: server() });
    await until(() => jsonLines(tail.output().stdout).length >= 7, "the tail's 7 lines");
    tail.kill("SIGINT");
    const code = await new Promise<number | null>((r) => (tail.exitCode !== null ? r(tail.exitCode) : tail.once("exit", r)));
    expect(code).toBe(130);
    const seen = jsonLines<{ partition: number; offset: number; body: unknown }>(tail.output().stdout);
    expect(seen).toHaveLength(7);
    expect(new Set(seen.map((m) => `${m.partition}:${m.offset}`)).size).toBe(7);
    expect(new Set(seen.map((m) => m.partition)).size).toBeGreaterThan(1);
    expect(tail.output().stderr).toBe("");
  });

  it("cli - tail survives a server restart: reconnects, says so on stderr, no gap and no duplicate", async () => {
    const first = await startServer();
    let second: LocalServer | undefined;
    const tail = { current: undefined as ReturnType<typeof startSpool> | undefined };
    // Every wait is bounded and a failure shows what the tail printed, so a slow machine fails with a reason.
    const waitFor = async (check: () => boolean, what: string, ms?: number): Promise<void> => {
      try {
        await until(check, what, ms);
      } catch (err) {
        throw new Error(`${(err as Error).message}; tail so far: ${JSON.stringify(tail.current?.output())}`);
      }
    };
    const publish = async (env: NodeJS.ProcessEnv, t: string, n: number): Promise<void> => {
      const run = await runSpool(["publish", t, String(n)], { env });
      expect(run.code, `publish ${n}: ${run.stderr}`).toBe(0);
    };
    try {
      const env = { SPOOL_URL: first.url, SPOOL_KEY: first.adminKey };
      const t = unique("cli-restart");
      for (const n of [0, 1, 2]) await publish(env, t, n);
      const running = (tail.current = startSpool(["tail", t, "--from", "earliest"], { env }));
      await waitFor(() => jsonLines(running.output().stdout).length === 3, "the first three messages");
      await first.stop();
      await waitFor(() => running.output().stderr.includes("lost; reconnecting"), "the tail to notice the drop");
      second = await startServer({ port: first.port, persistTo: first.persistTo });
      for (const n of [3, 4, 5]) await publish(env, t, n);
      await waitFor(() => jsonLines(running.output().stdout).length >= 6, "the three messages after the restart", 30_000);
      running.kill("SIGINT");
      await waitFor(() => running.exitCode !== null, "the tail to exit on Ctrl-C", 10_000);
      const seen = jsonLines<{ offset: number; body: number }>(running.output().stdout);
      expect(seen.map((m) => [m.offset, m.body])).toEqual([[0, 0], [1, 1], [2, 2], [3, 3], [4, 4], [5, 5]]);
      expect(running.output().stderr).toBe(`spool: connection to ${t}#0 lost; reconnecting…\nspool: reconnected to ${t}#0, resuming at offset 3\n`);
    } finally {
      tail.current?.kill("SIGKILL");
      await second?.stop();
      await first.stop();
    }
  }, 180_000);

  it("cli - token: prints a token that can do what --cap grants and nothing else", async () => {
    const t = unique("chat");
    const minted = await runSpool(["token", "--ttl", "60", "--cap", `topics/${t}:publish,subscribe`], { env: server() });
    expect(minted.code, minted.stderr).toBe(0);
    const token = minted.stdout.trim();
    expect(token.split(".")).toHaveLength(3);
    const ok = await runSpool(["--key", token, "publish", t, '"hi"'], { env: { SPOOL_URL: url() } });
    expect(ok.code, ok.stderr).toBe(0);
    const denied = await runSpool(["ls", "--key", token], { env: { SPOOL_URL: url() } });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain("FORBIDDEN");
    const bad = await runSpool(["token", "--cap", "chat:publish"], { env: server() });
    expect(bad.code).toBe(2);
  });

  it("cli - the key comes from .dev.vars for a server on this machine, never for one elsewhere", async () => {
    const dir = mkdtempSync(join(tmpdir(), "spool-devvars-"));
    writeFileSync(join(dir, ".dev.vars"), `SPOOL_ADMIN_KEY=${adminKey()}\nSPOOL_TOKEN_SECRET=x\n`);
    const local = await runSpool(["ls", "queues", "--url", url()], { cwd: dir });
    expect(local.code, local.stderr).toBe(0);
    const remote = await runSpool(["ls", "--url", "https://spool.example.com"], { cwd: dir });
    expect(remote.code).toBe(2);
    expect(remote.stderr).toContain("no key for https://spool.example.com");
    const defaultPort = await runSpool(["ls"], { cwd: dir, env: { SPOOL_URL: "" } });
    expect([0, 1, 3]).toContain(defaultPort.code); // whatever runs on 8787 here; the point is the URL it tried
    if (defaultPort.code === 3) expect(defaultPort.stderr).toContain("cannot reach http://127.0.0.1:8787");
  });

  it("cli - purge and redrive: counts of what moved", async () => {
    const q = unique("cli-dlq");
    await fetch(`${url()}/v1/queues/${q}`, { method: "PUT", headers: { authorization: `Bearer ${adminKey()}`, "content-type": "application/json" }, body: '{"maxReceives":1,"visibilityTimeout":1}' });
    await runSpool(["send", q, '{"x":1}'], { env: server() });
    expect(jsonLines((await runSpool(["receive", q], { env: server() })).stdout)).toHaveLength(1);
    const dlqVisible = async (): Promise<number | undefined> =>
      jsonLines<{ stats: { visible: number } }>((await runSpool(["info", `${q}.dlq`, "--queue"], { env: server() })).stdout)[0]?.stats.visible;
    await until(async () => (await dlqVisible()) === 1, "the dead letter in the DLQ", 20_000);
    const moved = await runSpool(["redrive", `${q}.dlq`], { env: server() });
    expect(jsonLines(moved.stdout)).toEqual([{ moved: 1 }]);
    const purged = await runSpool(["purge", q], { env: server() });
    expect(jsonLines(purged.stdout)).toEqual([{ purged: 1 }]);
  }, 60_000);

  it("cli - keys: create prints the secret once, ls lists without secrets, rm revokes", async () => {
    const created = await runSpool(["keys", "create", "--cap", "queues/jobs:send", "--description", "cli test"], { env: server() });
    expect(created.code, created.stderr).toBe(0);
    const [key] = jsonLines<{ accessKeyId: string; secretAccessKey: string }>(created.stdout);
    expect(key!.secretAccessKey.length).toBeGreaterThan(10);
    const listed = jsonLines<{ accessKeyId: string }>((await runSpool(["keys"], { env: server() })).stdout);
    expect(listed.map((k) => k.accessKeyId)).toContain(key!.accessKeyId);
    expect(JSON.stringify(listed)).not.toContain(key!.secretAccessKey);
    expect((await runSpool(["keys", "rm", key!.accessKeyId], { env: server() })).code).toBe(0);
    const gone = await runSpool(["keys", "rm", key!.accessKeyId], { env: server() });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("NOT_FOUND");
  });

  it("cli - installed without devDependencies (no esbuild, no sources) it runs the bundle `prepare` built", async () => {
    const dir = mkdtempSync(join(tmpdir(), "spool-installed-"));
    mkdirSync(join(dir, "cli"));
    copyFileSync(SPOOL_BIN, join(dir, "cli", "spool.mjs"));
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "spool", version: "0.0.0-installed", type: "module" }));
    const missing = await runSpool(["--version"], { bin: join(dir, "cli", "spool.mjs") });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("esbuild (a dev dependency) is missing");
    await promisify(execFile)(process.execPath, [SPOOL_BIN, "--build", join(dir, "dist", "cli", "spool.mjs")]);
    const version = await runSpool(["--version"], { bin: join(dir, "cli", "spool.mjs"), node: node20 });
    expect(version.stdout.trim()).toBe("0.0.0-installed");
    const sent = await runSpool(["send", unique("cli-installed"), "1"], { bin: join(dir, "cli", "spool.mjs"), node: node20, env: server() });
    expect(sent.code, sent.stderr).toBe(0);
  });

  it.skipIf(node20 === undefined)("cli - runs on the machine's own Node 20 (no type stripping, no WebSocket): send, receive, tail over SSE", async () => {
    const q = unique("cli-node20");
    const sent = await runSpool(["send", q, '{"on":"node20"}'], { env: server(), node: node20 });
    expect(sent.code, sent.stderr).toBe(0);
    const got = await runSpool(["receive", q, "--ack"], { env: server(), node: node20 });
    expect(jsonLines(got.stdout)).toMatchObject([{ body: { on: "node20" } }]);
    const t = unique("cli-node20");
    await runSpool(["publish", t, '"first"'], { env: server(), node: node20 });
    const tail = startSpool(["tail", t, "--from", "earliest"], { env: server(), node: node20 });
    await runSpool(["publish", t, '"second"'], { env: server(), node: node20 });
    await until(() => jsonLines(tail.output().stdout).length >= 2, "both messages through SSE");
    tail.kill("SIGINT");
    await new Promise((r) => tail.once("exit", r));
    expect(jsonLines<{ body: string }>(tail.output().stdout).map((m) => m.body)).toEqual(["first", "second"]);
  });
});
