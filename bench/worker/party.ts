/**
 * BenchParty: the peer the fan-out rows are compared with — a room of `partyserver`
 * (npm, what Workers developers use today for realtime rooms), in the same workerd as
 * Spool, written the way its README shows: hibernating connections, `onRequest` for the
 * publisher's POST, `broadcast` to every connection. It sends the same frames as Spool
 * (`{"type":"message","partition":0,"offset":n,...}`), numbered in memory: a room keeps no
 * log, does not persist, order or resume — the work Spool does on top.
 *
 *   GET  /parties/party/{room}   WebSocket upgrade (a subscriber)
 *   POST /parties/party/{room}   {messages:[...]} or one message -> a frame each, broadcast
 *   GET  /parties/party/{room}   (no upgrade) how many connections the room holds
 */
import { Server, type Connection } from "partyserver";
import type { BenchEnv } from "./env";
import type { BenchMessage } from "./baseline";

export class BenchParty extends Server<BenchEnv> {
  static override options = { hibernate: true };
  #offset = 0;

  override async onRequest(request: Request): Promise<Response> {
    if (request.method === "GET") return Response.json({ sockets: [...this.getConnections()].length });
    const parsed = (await request.json()) as { messages?: BenchMessage[] } & BenchMessage;
    const messages = Array.isArray(parsed.messages) ? parsed.messages : [parsed];
    const timestamp = Date.now();
    for (const m of messages) {
      const offset = this.#offset++;
      this.broadcast(JSON.stringify({
        type: "message", partition: 0, offset, id: `party-${offset}`, key: m.key ?? null,
        body: m.body, headers: m.headers ?? {}, timestamp,
      }));
    }
    return Response.json({ frames: messages.length }, { status: 201 });
  }

  override onMessage(_connection: Connection, _message: string | ArrayBuffer | ArrayBufferView): void {
    // Subscribers only listen; their acks (sent to every side alike) are ignored.
  }
}
