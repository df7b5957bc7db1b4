// Types `env` and `exports` from "cloudflare:workers" in tests as the Worker's own.
declare namespace Cloudflare {
  // An interface cannot extend an import() type directly (skipLibCheck hid that error).
  type SpoolEnv = import("../../worker/env").Env;
  interface Env extends SpoolEnv {}
  interface GlobalProps {
    mainModule: typeof import("../../worker/index");
  }
}
