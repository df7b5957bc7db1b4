/**
 * A tiny page server on 127.0.0.1 for the browser tests: serves the test page and the
 * bundled client (esbuild), and plays the application's backend at `/token`, minting a
 * short-lived scoped token with the admin key. The page is on this origin and calls the
 * Spool API on another, so the API's CORS answers are what make it work.
 */
import { createServer, type Server } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

export interface PageServer {
  origin: string;
  /** Tokens minted so far (the test checks the page used tokens, not the admin key). */
  minted: number;
  close(): Promise<void>;
}

export async function startPageServer(api: string, adminKey: string, ttl = 600): Promise<PageServer> {
  const bundled = await build({
    entryPoints: [join(import.meta.dirname, "app.ts")],
    bundle: true, format: "esm", platform: "browser", target: "chrome120", write: false, logLevel: "silent",
  });
  const js = bundled.outputFiles[0]!.text;
  const html = readFileSync(join(import.meta.dirname, "index.html"), "utf8");
  const state = { minted: 0 };
  const server: Server = createServer(async (req, res) => {
    const u = new URL(req.url ?? "/", "http://127.0.0.1");
    if (u.pathname === "/app.js") return void res.writeHead(200, { "content-type": "text/javascript" }).end(js);
    if (u.pathname === "/token") {
      const name = u.searchParams.get("name") ?? "";
      const capabilities = u.searchParams.get("mode") === "consume" ? { [`queues/${name}`]: ["receive"] } : { [`topics/${name}`]: ["subscribe"] };
      const r = await fetch(`${api}/v1/tokens`, {
        method: "POST",
        headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
        body: JSON.stringify({ ttl, capabilities }),
      });
      state.minted++;
      return void res.writeHead(r.status, { "content-type": "application/json" }).end(await r.text());
    }
    if (u.pathname === "/") return void res.writeHead(200, { "content-type": "text/html" }).end(html);
    res.writeHead(404).end();
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return {
    origin: `http://127.0.0.1:${port}`,
    get minted() {
      return state.minted;
    },
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
