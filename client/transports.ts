/**
 * The two live transports of a topic subscription, behind one interface: WebSocket
 * (`/subscribe`, JSON frames) and Server-Sent Events (`/events`). Each turns the wire
 * format into the same three events; the subscription decides what they mean.
 */
import { ConnectionError, errorFromFrame, isRecord, type SpoolError } from "./errors.js";
import type { Http } from "./http.js";
import { openEventStream } from "./sse.js";
import { openSocket, type CloseInfo, type Frame } from "./socket.js";
import type { StartPosition, TopicMessage } from "./types.js";
import { seg } from "./context.js";

/** `"auto"`: WebSocket, falling back to SSE when WebSockets are blocked on the way. */
export type TransportName = "websocket" | "sse" | "auto";

export interface StreamHandlers {
  message(message: TopicMessage): void;
  gap(from: number, to: number): void;
  error(error: SpoolError): void;
}

export interface StreamConnection {
  readonly closed: Promise<CloseInfo>;
  close(): void;
  /**
   * Confirms everything up to `offset` was consumed. Over WebSocket this is the server's
   * flow control: it never has more than a window of unconfirmed messages out, and pauses
   * (rather than closes) a subscriber that confirms. SSE relies on TCP instead.
   */
  confirm(offset: number): void;
}

export interface Transport {
  readonly name: "websocket" | "sse";
  /** Opens the stream at `from`; resolves once the server accepted it. */
  connect(from: StartPosition, handlers: StreamHandlers, signal: AbortSignal): Promise<StreamConnection>;
}

export function transport(name: "websocket" | "sse", http: Http, topic: string, partition: number): Transport {
  if (name === "sse") return sseTransport(http, topic, partition);
  return {
    name: "websocket",
    async connect(from, handlers, signal) {
      // If the handshake fails, reading the same partition tells why (missing topic, bad partition, no capability).
      const explain = () => http.request("GET", `/v1/topics/${seg(topic)}/messages`, { query: { partition, limit: 1 } });
      const socket = await openSocket(http, `/v1/topics/${seg(topic)}/subscribe`, { partition, from }, (f) => onFrame(f, handlers), signal, explain);
      return {
        closed: socket.closed,
        close: () => socket.close(1000, "unsubscribe"),
        confirm: (offset) => void socket.send({ type: "ack", offset }),
      };
    },
  };
}

function onFrame(frame: Frame, h: StreamHandlers): void {
  if (frame.type === "message") {
    const { type: _type, ...message } = frame;
    if (typeof message.offset === "number") h.message(message as unknown as TopicMessage);
  } else if (frame.type === "gap" && typeof frame.from === "number" && typeof frame.to === "number") {
    h.gap(frame.from, frame.to);
  } else if (frame.type === "error") {
    h.error(errorFromFrame(isRecord(frame.error) ? frame.error : frame));
  }
}

function sseTransport(http: Http, topic: string, partition: number): Transport {
  return {
    name: "sse",
    async connect(from, handlers, signal) {
      const stream = await openEventStream(http, `/v1/topics/${seg(topic)}/events`, { partition, from }, (event) => {
        let data: unknown;
        try {
          data = JSON.parse(event.data);
        } catch {
          return handlers.error(new ConnectionError({ code: "CONNECTION_FAILED", status: 0, message: "event stream sent data that is not JSON" }));
        }
        if (!isRecord(data)) return;
        if (event.event === "message") {
          const offset = typeof data.offset === "number" ? data.offset : Number(event.id);
          if (Number.isInteger(offset)) handlers.message({ ...(data as unknown as TopicMessage), offset });
        } else if (event.event === "gap") {
          onFrame({ ...data, type: "gap" }, handlers);
        } else if (event.event === "error") {
          onFrame({ ...data, type: "error" }, handlers);
        }
      }, signal);
      return { ...stream, confirm: () => {} };
    },
  };
}
