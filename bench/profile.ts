/**
 * CPU profiles of the server during a measured phase (`npm run bench -- --profile`), over
 * workerd's inspector (Chrome DevTools protocol). Writes a .cpuprofile that DevTools opens,
 * and a text summary of where time went: self and inclusive time per source file and per
 * function, mapped back to Spool's files through the bundle's source map, so a reader
 * sees "durable-objects/topic-log-commit.ts:142" rather than "worker.mjs:8123".
 */
import { readFileSync, writeFileSync } from "node:fs";
import { Inspector } from "./inspector.ts";

interface CallFrame { functionName: string; url: string; lineNumber: number; columnNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; hitCount?: number; children?: number[] }
export interface CpuProfile { nodes: ProfileNode[]; startTime: number; endTime: number; samples?: number[]; timeDeltas?: number[] }

export class Profiler {
  readonly #inspector: Inspector;

  private constructor(inspector: Inspector) {
    this.#inspector = inspector;
  }

  /** Connects to the user worker's isolate (Spool's Worker and all its objects share it). */
  static async connect(inspectorPort: number, target: string): Promise<Profiler> {
    const inspector = await Inspector.connect(inspectorPort, target);
    await inspector.send("Profiler.enable");
    await inspector.send("Profiler.setSamplingInterval", { interval: 200 });
    return new Profiler(inspector);
  }

  async start(): Promise<void> {
    await this.#inspector.send("Profiler.start");
  }

  async stop(): Promise<CpuProfile> {
    const r = (await this.#inspector.send("Profiler.stop")) as { profile: CpuProfile };
    return r.profile;
  }

  close(): void {
    this.#inspector.close();
  }
}

interface SourceMapJson { sources: string[]; mappings: string }

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Decodes one segment of a source map's base64 VLQ mappings. */
function decodeVlq(segment: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const ch of segment) {
    const digit = B64.indexOf(ch);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      out.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return out;
}

/**
 * Maps a bundle position to "file:line" of the source, from esbuild's source map (the first
 * mapping at or before the column on that line). Paths are shown as in the repo: npm
 * packages by name, sources exported by --ref without their temp dir.
 */
function sourceMapper(map: SourceMapJson): (line: number, column: number) => { file: string; line: number } {
  const lines: number[][][] = [];
  let src = 0;
  let srcLine = 0;
  let srcCol = 0;
  for (const text of map.mappings.split(";")) {
    let col = 0;
    const segs: number[][] = [];
    for (const seg of text.split(",")) {
      if (!seg) continue;
      const v = decodeVlq(seg);
      col += v[0]!;
      if (v.length >= 4) {
        src += v[1]!;
        srcLine += v[2]!;
        srcCol += v[3]!;
        segs.push([col, src, srcLine]);
      }
    }
    lines.push(segs);
  }
  const files = map.sources.map((f) => {
    const npm = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f);
    return npm ? `${npm[1]} (npm)` : f.replace(/^(\.\.\/)*(.*\/spool-bench-src-[^/]+\/)?/, "");
  });
  return (line, column) => {
    const segs = lines[line] ?? [];
    let best: number[] | undefined;
    for (const s of segs) {
      if (s[0]! <= column) best = s;
      else break;
    }
    best ??= segs[0];
    return best ? { file: files[best[1]!] ?? "(bundle)", line: best[2]! + 1 } : { file: "(bundle)", line: 0 };
  };
}

/** A text report: top files and functions by self time, and functions by inclusive time. */
export function summariseProfile(profile: CpuProfile, bundlePath: string, top = 25): string {
  const where = sourceMapper(JSON.parse(readFileSync(`${bundlePath}.map`, "utf8")) as SourceMapJson);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (deltas[i] ?? 0) / 1000));
  const total = [...self.values()].reduce((a, b) => a + b, 0);

  const label = (n: ProfileNode) => {
    const f = n.callFrame;
    if (!f.url) return { file: f.functionName || "(native)", fn: f.functionName || "(anonymous)" };
    if (!f.url.endsWith("worker.mjs")) return { file: f.url, fn: `${f.functionName || "(anonymous)"} @ ${f.url}` };
    const at = where(f.lineNumber, f.columnNumber);
    return { file: at.file, fn: `${f.functionName || "(anonymous)"} @ ${at.file}:${at.line}` };
  };

  const fileSelf = new Map<string, number>();
  const fnSelf = new Map<string, number>();
  for (const [id, ms] of self) {
    const l = label(byId.get(id)!);
    fileSelf.set(l.file, (fileSelf.get(l.file) ?? 0) + ms);
    fnSelf.set(l.fn, (fnSelf.get(l.fn) ?? 0) + ms);
  }

  // Inclusive time: each function counted once per stack even when it recurses.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const fnIncl = new Map<string, number>();
  for (const [id, ms] of self) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const fn = label(byId.get(cur)!).fn;
      if (seen.has(fn)) continue;
      seen.add(fn);
      fnIncl.set(fn, (fnIncl.get(fn) ?? 0) + ms);
    }
  }

  const rows = (m: Map<string, number>) =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)
      .map(([k, ms]) => `${ms.toFixed(0).padStart(8)} ms ${((ms / total) * 100).toFixed(1).padStart(5)}%  ${k}`);
  return [
    `sampled ${total.toFixed(0)} ms of the isolate's thread (idle included)`,
    "", "self time by source file:", ...rows(fileSelf),
    "", "self time by function:", ...rows(fnSelf),
    "", "inclusive time by function:", ...rows(fnIncl),
    "",
  ].join("\n");
}

export function writeProfile(path: string, profile: CpuProfile, summary: string): void {
  writeFileSync(`${path}.cpuprofile`, JSON.stringify(profile));
  writeFileSync(`${path}.txt`, summary);
}
