/** Hono's generic parameter for every app and sub-app in the Worker. */
import type { Env } from "../durable-objects/env";
import type { Credential } from "./auth";

export interface AppEnv {
  Bindings: Env;
  Variables: { credential: Credential };
}
