/** /v1/topics: live WebSocket (/subscribe) and SSE (/events) routes. (Topics part 2.) */
import { newApp } from "../http";

export const topicLive = newApp();
