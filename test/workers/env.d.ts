// Types `env` and `exports` from "cloudflare:workers" in tests as the Worker's own.
declare namespace Cloudflare {
  interface Env extends import("../../worker/env").Env {}
  interface GlobalProps {
    mainModule: typeof import("../../worker/index");
  }
}
