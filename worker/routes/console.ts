/**
 * GET /console: the web console (console/), a single page built on the SDK that talks only
 * to this origin's public /v1 API. It is bundled into the Worker as strings by
 * console/build.mjs rather than served as Workers static assets: the page is three small
 * files, and a module works unchanged wherever the Worker runs (wrangler dev and deploy,
 * the workers test pool, Miniflare) with no asset directory to build and configure first.
 *
 * Loading it needs no credential (the page asks for one). A strict Content-Security-Policy
 * keeps everything on this origin: no external fonts, scripts or CDNs, and no request can
 * leave the page for another host.
 */
import { Hono, type Context } from "hono";
import type { AppEnv } from "../app-env";
import { CONSOLE_CSS, CONSOLE_HTML, CONSOLE_JS, CONSOLE_VERSION } from "../../console/bundle.generated";

export const consoleApp = new Hono<AppEnv>();

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  // 'self' covers the same host's ws: and wss: (the live tail).
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const ETAG = `"${CONSOLE_VERSION}"`;

function serve(c: Context<AppEnv>, body: string, type: string, cache: string): Response {
  const headers = {
    "content-type": type,
    "cache-control": cache,
    etag: ETAG,
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
  };
  if (c.req.header("if-none-match") === ETAG) return c.body(null, 304, headers);
  return c.body(body, 200, headers);
}

/** Assets named with the page's version never change: cache them for good; anything else, revalidate. */
function assetCache(c: Context<AppEnv>): string {
  return c.req.query("v") === CONSOLE_VERSION ? "public, max-age=31536000, immutable" : "no-cache";
}

consoleApp.get("/console", (c) => serve(c, CONSOLE_HTML, "text/html; charset=utf-8", "no-cache"));
consoleApp.get("/console/", (c) => c.redirect("/console", 301));
consoleApp.get("/console/app.js", (c) => serve(c, CONSOLE_JS, "text/javascript; charset=utf-8", assetCache(c)));
consoleApp.get("/console/app.css", (c) => serve(c, CONSOLE_CSS, "text/css; charset=utf-8", assetCache(c)));
