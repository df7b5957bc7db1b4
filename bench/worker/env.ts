/** Bindings of the bench Worker: Spool's own plus the baseline object. */
import type { Env } from "../../durable-objects/env";
import type { BenchBaseline } from "./baseline";

export interface BenchEnv extends Env {
  BENCH: DurableObjectNamespace<BenchBaseline>;
}
