/**
 * The browser test page: loads the bundled client, gets a token from its own backend
 * (`/token`, which mints one with the admin key as a real backend would), then either
 * subscribes to a topic or consumes a queue and shows every message in a list. The query
 * string says what to do: `?mode=subscribe|consume&name=…&api=…&transport=websocket|sse`.
 */
import { Spool, type TransportName } from "../../../client/index";

const params = new URLSearchParams(location.search);
const mode = params.get("mode") ?? "subscribe";
const name = params.get("name") ?? "chat";
const api = params.get("api") ?? "";
const transport = (params.get("transport") ?? "websocket") as TransportName;

const list = document.getElementById("messages")!;
const status = document.getElementById("status")!;
const title = document.getElementById("title")!;

function show(text: string): void {
  const li = document.createElement("li");
  li.textContent = text;
  list.append(li);
}

async function main(): Promise<void> {
  const spool = new Spool({
    url: api,
    // The page never sees the admin key: its backend hands out short-lived scoped tokens.
    getToken: async () => (await fetch(`/token?mode=${mode}&name=${encodeURIComponent(name)}`)).json() as Promise<{ token: string; expiresAt: number }>,
  });
  void (async () => {
    for await (const s of spool.status()) {
      status.textContent = `${s.type} (${s.stream.transport})`;
      status.dataset.state = s.type;
    }
  })();
  (window as unknown as { spool: Spool }).spool = spool;
  if (mode === "consume") {
    title.textContent = `queue ${name}`;
    spool.queue<{ text: string }>(name).consume(async (m) => show(`${m.id} ${m.body.text}`));
  } else {
    title.textContent = `topic ${name} (${transport})`;
    for await (const m of spool.topic<{ text: string }>(name).subscribe({ from: "earliest", transport })) {
      show(`${m.offset}: ${m.body.text}`);
    }
  }
}

main().catch((err: unknown) => {
  document.getElementById("error")!.textContent = String(err);
});
