// Bundles the page's script with the SDK (from node_modules/spool, as installed) for the browser.
import { build } from "esbuild";

await build({
  entryPoints: [new URL("./app.js", import.meta.url).pathname],
  outfile: new URL("./public/bundle.js", import.meta.url).pathname,
  bundle: true, minify: true, format: "esm", platform: "browser", target: "es2022", logLevel: "warning",
});
