/** Every scenario group, in the order they run. */
import { cost } from "./cost.ts";
import { fanout, memory } from "./fanout.ts";
import { httpCeiling, publish } from "./publish.ts";
import { depth, queueCycle } from "./queues.ts";
import { sqsCycle } from "./sqs.ts";
import { streams } from "./streams.ts";
import type { Group } from "./types.ts";

export const GROUPS: Group[] = [httpCeiling, publish, queueCycle, sqsCycle, streams, fanout, depth, memory, cost];
