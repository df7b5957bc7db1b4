/** /v1/topics: consumer group routes under /v1/topics/{t}/groups/{g}. (Topics part 2.) */
import { newApp } from "../http";

export const groups = newApp();
