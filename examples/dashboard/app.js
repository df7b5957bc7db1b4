// The dashboard page: follows every partition of the topic named in `?topic=` and lists
// each event once, newest first. The broker may restart under it: the subscription
// reconnects by itself and resumes every partition where it stopped, so nothing is missed
// and nothing shows twice. The page never sees the admin key: it asks its own server for
// a short-lived token that may only subscribe to this topic, and asks again before expiry.
import { Spool } from "spool/client";

const params = new URLSearchParams(location.search);
const topic = params.get("topic") ?? "orders";
const spool = new Spool({
  url: params.get("api") ?? "http://127.0.0.1:8787",
  getToken: async () => {
    const res = await fetch(`/token?topic=${encodeURIComponent(topic)}`);
    if (!res.ok) throw new Error(`token: ${res.status}`);
    return res.json(); // {token, expiresAt}
  },
});

const $ = (id) => document.getElementById(id);
const sub = spool.topic(topic).subscribe({ from: "earliest" });

void (async () => {
  for await (const s of spool.status()) {
    $("status").dataset.state = sub.state;
    $("status").textContent = sub.state;
    if (s.type === "reconnecting") $("status").dataset.reconnects = String(Number($("status").dataset.reconnects ?? 0) + 1);
  }
})();

let count = 0;
for await (const m of sub) {
  const li = document.createElement("li");
  li.dataset.key = `${m.partition}:${m.offset}`;
  li.textContent = `${m.partition}:${m.offset} order ${m.body.id} ${m.body.status}`;
  $("events").prepend(li);
  $("count").textContent = String(++count);
}
const error = await sub.closed;
$("status").dataset.state = "closed";
$("status").textContent = "closed";
if (error) $("error").textContent = error.message;
