/** /v1/topics: partitioned, replayable topics. (Routes arrive with the topic issues.) */
import { newApp, validNames } from "../http";

export const topics = newApp();
topics.use("/:t/*", validNames("t"));
topics.use("/:t", validNames("t"));
