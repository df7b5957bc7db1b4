// Tests that run inside workerd against the real Worker and Durable Objects (Miniflare).
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "../../wrangler.toml" },
      miniflare: {
        bindings: {
          SPOOL_ADMIN_KEY: "test-admin-key",
          SPOOL_TOKEN_SECRET: "test-token-secret-0123456789abcdef",
          SPOOL_TOKEN_SECRET_PREVIOUS: "test-previous-secret-0123456789abcdef",
          SPOOL_ALLOW_PRIVATE_WEBHOOKS: "true",
          SPOOL_MAX_BODY_BYTES: "1048576",
        },
      },
    }),
  ],
  test: {
    root: import.meta.dirname,
    include: ["**/*.test.ts"],
    testTimeout: 20_000,
  },
});
