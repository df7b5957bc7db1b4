/** Bindings of the bench Worker: Spool's own plus the baseline object and the partyserver peer. */
import type { Env } from "../../durable-objects/env";
import type { BenchBaseline } from "./baseline";
import type { BenchParty } from "./party";

export interface BenchEnv extends Env {
  BENCH: DurableObjectNamespace<BenchBaseline>;
  PARTY: DurableObjectNamespace<BenchParty>;
}
