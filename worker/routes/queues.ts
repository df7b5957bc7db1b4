/** /v1/queues: point-to-point queues. (Routes arrive with the queues issue.) */
import { newApp, validNames } from "../http";

export const queues = newApp();
queues.use("/:q/*", validNames("q"));
queues.use("/:q", validNames("q"));
