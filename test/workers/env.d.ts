// Types `env` and `exports` from "cloudflare:workers" in tests as the Worker's own.
declare namespace Cloudflare {
  // An interface cannot extend an import() type directly (skipLibCheck hid that error).
  type SpoolEnv = import("../../durable-objects/env").Env;
  interface Env extends SpoolEnv {}
  interface GlobalProps {
    mainModule: typeof import("../../worker/index");
  }
}
