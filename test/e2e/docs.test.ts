/**
 * The API reference in docs/ stays true: every route the running Worker lists in
 * /openapi.json, every error code with its HTTP status and every WebSocket close code
 * appears in docs/api.md; the reference lists no route, code or close code the server does
 * not have; and every link between the docs (and from the README) resolves.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ErrorCodes } from "../../protocol/errors";
import { CloseCodes } from "../../protocol/sockets";
import { url } from "./helpers";

const ROOT = resolve(import.meta.dirname, "../..");
const DOCS = join(ROOT, "docs");
const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"] as const;

const read = (file: string): string => readFileSync(file, "utf8");
const api = read(join(DOCS, "api.md"));

/** `/v1/topics/{t}/groups/{g}` and `/v1/topics/{topic}/groups/{group}` compare equal. */
const normalise = (text: string): string => text.replace(/\{[^}/\s]*\}/g, "{}");
const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The text of a `## heading` section of api.md, up to the next `## ` heading. */
function section(heading: string): string {
  const start = api.indexOf(`\n## ${heading}\n`);
  expect(start, `docs/api.md has a "## ${heading}" section`).toBeGreaterThanOrEqual(0);
  const end = api.indexOf("\n## ", start + 1);
  return api.slice(start, end === -1 ? undefined : end);
}

/** Every `METHOD /path` the OpenAPI document serves, with `{params}` normalised. */
let served: string[] = [];

beforeAll(async () => {
  const res = await fetch(`${url()}/openapi.json`);
  expect(res.status).toBe(200);
  const doc = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
  served = Object.entries(doc.paths).flatMap(([path, ops]) =>
    METHODS.filter((m) => ops[m] !== undefined).map((m) => `${m.toUpperCase()} ${normalise(path)}`),
  );
  // The document does not list itself; it was just served.
  served.push("GET /openapi.json");
  expect(served.length).toBeGreaterThan(20);
});

describe("api reference", () => {
  it("api docs - document every route of /openapi.json", () => {
    const docs = normalise(api);
    // A route is documented as `METHOD /path` followed by the closing backtick or a query.
    const missing = served.filter((route) => !new RegExp("`" + escapeRegExp(route) + "[`?]").test(docs));
    expect(missing, "routes in /openapi.json missing from docs/api.md").toEqual([]);
  });

  it("api docs - list no route the server does not serve", () => {
    const rows = [...normalise(section("Every route")).matchAll(/^\| `([A-Z]+ \/[^`?]*)[`?]/gm)].map((m) => m[1]!);
    expect(rows.length).toBeGreaterThanOrEqual(served.length);
    expect(rows.filter((route) => !served.includes(route)), "routes in docs/api.md the server does not serve").toEqual([]);
  });

  it("api docs - give every error code with its HTTP status", () => {
    const errors = section("Errors");
    const missing = Object.entries(ErrorCodes)
      .filter(([code, status]) => !new RegExp(`^\\| \`${code}\` \\| ${status} \\|`, "m").test(errors))
      .map(([code, status]) => `${code} ${status}`);
    expect(missing, "error codes missing from the Errors table of docs/api.md").toEqual([]);
    const documented = [...errors.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]!);
    expect(documented.filter((code) => !Object.hasOwn(ErrorCodes, code)), "codes the server does not have").toEqual([]);
  });

  it("api docs - give every WebSocket close code", () => {
    const closes = section("WebSocket close codes");
    const codes: number[] = Object.values(CloseCodes);
    const missing = codes.filter((code) => !new RegExp(`^\\| \`${code}\` \\|`, "m").test(closes));
    expect(missing, "close codes missing from docs/api.md").toEqual([]);
    const documented = [...closes.matchAll(/^\| `(\d{4})` \|/gm)].map((m) => Number(m[1]));
    expect(documented.filter((code) => !codes.includes(code)), "close codes the server does not use").toEqual([]);
  });
});

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const m of markdown.matchAll(/^#{1,6} (.+)$/gm)) {
    out.add(m[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replace(/ /g, "-"));
  }
  return out;
}

/** Relative links `[text](target)` of a markdown file, outside code blocks. */
function links(markdown: string): string[] {
  const prose = markdown.replace(/^```[\s\S]*?^```/gm, "");
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z]+:/i.test(t));
}

describe("docs links", () => {
  const files = [join(ROOT, "README.md"), ...readdirSync(DOCS).filter((f) => f.endsWith(".md")).map((f) => join(DOCS, f))];

  it("docs - every relative link resolves to a file and heading in the repository", () => {
    const broken: string[] = [];
    for (const file of files) {
      for (const target of links(read(file))) {
        const [path, anchor] = target.split("#") as [string, string | undefined];
        const resolved = path === "" ? file : resolve(dirname(file), path);
        const name = `${file.slice(ROOT.length + 1)} → ${target}`;
        if (!resolved.startsWith(ROOT + "/")) broken.push(`${name} (outside the repository)`);
        else if (!existsSync(resolved)) broken.push(`${name} (no such file)`);
        else if (anchor && resolved.endsWith(".md") && !anchors(read(resolved)).has(anchor)) broken.push(`${name} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("docs - the README points to the API reference", () => {
    expect(links(read(join(ROOT, "README.md")))).toContain("docs/api.md");
  });
});
