/**
 * The line protocol between the bench harness and a load generator child process. The
 * generator runs apart from the harness (which hosts Miniflare) and writes one JSON object
 * per stdout line: `start`/`end` around each measured window, so the harness samples the
 * server's and the generator's CPU exactly then; `sample` to ask for a server RSS reading;
 * `result` once at the end.
 */

export type GeneratorEvent =
  | { event: "start"; phase: string }
  | { event: "end"; phase: string }
  | { event: "sample"; label: string }
  | { event: "log"; message: string }
  | { event: "result"; result: unknown };

/** Arguments every generator receives (as JSON in argv[2]), plus its own. */
export interface GeneratorArgs {
  url: string;
  adminKey: string;
  /** Measured seconds per phase. */
  seconds: number;
  /** Unmeasured warm-up seconds before each phase. */
  warmupSeconds: number;
}
