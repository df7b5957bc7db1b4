/**
 * The reference broker of the MQTT bench: aedes (in memory, its defaults) served over
 * WebSocket on 127.0.0.1 with `ws`'s `createWebSocketStream`, so mqtt.js reaches it exactly
 * as it reaches Spool's `/v1/mqtt` (ws://, subprotocol `mqtt`). Runs in its own process so
 * the harness can read its CPU apart from the load generator's and from workerd's.
 *
 *   node bench/mqtt/aedes.ts      prints `{"port": n}` once listening; exits when stdin closes
 */
import { createServer } from "node:http";
import { Aedes } from "aedes";
import { WebSocketServer, createWebSocketStream } from "ws";

const broker = await Aedes.createBroker();
const http = createServer((_req, res) => {
  res.writeHead(426).end("MQTT over WebSocket only");
});
const wss = new WebSocketServer({
  server: http,
  perMessageDeflate: false,
  // mqtt.js offers `mqtt`; answer with it as Spool does.
  handleProtocols: (offered) => (offered.has("mqtt") ? "mqtt" : false),
});
wss.on("connection", (socket, req) => {
  const stream = createWebSocketStream(socket);
  stream.on("error", () => socket.terminate()); // a client that drops mid-frame must not crash the broker
  broker.handle(stream, req);
});

http.listen(0, "127.0.0.1", () => {
  const address = http.address();
  const port = typeof address === "object" && address ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});

// The harness holds our stdin: when it closes (the harness ended or died) we stop too.
process.stdin.resume();
process.stdin.once("end", () => shutdown());
process.once("SIGTERM", () => shutdown());

function shutdown(): void {
  for (const client of wss.clients) client.terminate();
  wss.close();
  http.close();
  broker.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
