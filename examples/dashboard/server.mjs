// The dashboard's own little backend: serves the page and the bundle, and mints each
// visitor a short-lived token that may only subscribe to the topic it asks for (the admin
// key stays here). PORT (8080), SPOOL_URL and SPOOL_KEY come from the environment.
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { Spool } from "spool/client";

const { PORT = "8080", SPOOL_URL = "http://127.0.0.1:8787", SPOOL_KEY, TOKEN_TTL = "60" } = process.env;
const spool = new Spool({ url: SPOOL_URL, token: SPOOL_KEY });
const files = { "/": ["index.html", "text/html"], "/bundle.js": ["public/bundle.js", "text/javascript"] };

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? "/", "http://localhost");
  try {
    if (url.pathname === "/token") {
      const topic = url.searchParams.get("topic") ?? "orders";
      const minted = await spool.createToken({ ttl: Number(TOKEN_TTL), capabilities: { [`topics/${topic}`]: ["subscribe"] } });
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify(minted));
      return;
    }
    const file = files[url.pathname];
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": file[1] }).end(await readFile(new URL(file[0], import.meta.url)));
  } catch (err) {
    // The broker may be restarting: the page's SDK asks again.
    res.writeHead(503, { "content-type": "text/plain" }).end(String(err?.message ?? err));
  }
});
server.listen(Number(PORT), "127.0.0.1", () => console.log(`dashboard on http://127.0.0.1:${server.address().port}/`));
