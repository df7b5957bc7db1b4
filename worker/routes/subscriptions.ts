/** /v1/topics: subscription routes under /v1/topics/{t}/subscriptions/{s}. (Fan-out.) */
import { newApp } from "../http";

export const subscriptions = newApp();
