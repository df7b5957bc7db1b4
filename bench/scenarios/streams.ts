/**
 * Durable Streams (/v1/stream): appends and catch-up reads of a JSON stream against the
 * same work through /v1/topics, in the same run. A stream is a topic partition, so the
 * baseline is Spool's own topic API: the difference is what the protocol layer costs.
 */
import { sampleMessage } from "../load/common.ts";
import type { HttpPhase } from "../load/http.ts";
import { httpPair } from "./publish.ts";
import type { Group, Row } from "./types.ts";

/** Messages in the stream (and topic) a catch-up read returns whole. */
const CATCH_UP_MESSAGES = 1000;

const rows: Row[] = [
  {
    id: "stream-append-1", title: "Durable Streams append, 1 JSON msg/request, 32 connections", unit: "msgs/s", better: "higher",
    baseline: "the same message published through /v1/topics",
  },
  {
    id: "stream-catch-up", title: "Durable Streams catch-up read of 1,000 messages, 8 connections", unit: "MB/s", better: "higher",
    baseline: "the same 1,000 messages read through /v1/topics (limit=1000)",
  },
];

export const streams: Group = {
  id: "streams",
  quick: false,
  rows,
  async run(ctx, selected) {
    const out: Awaited<ReturnType<Group["run"]>> = {};
    for (const row of selected) {
      const name = ctx.name(row.id);
      if (row.id === "stream-append-1") {
        const message = sampleMessage(0).body;
        const spool: HttpPhase = {
          phase: "spool", method: "POST", path: `/v1/stream/${name}`, body: JSON.stringify(message), connections: 32, messagesPerRequest: 1,
          setup: [{ method: "PUT", path: `/v1/stream/${name}` }],
        };
        const baseline: HttpPhase = {
          phase: "baseline", method: "POST", path: `/v1/topics/${name}-topic/messages`, body: JSON.stringify({ body: message }),
          connections: 32, messagesPerRequest: 1, setup: [{ method: "PUT", path: `/v1/topics/${name}-topic`, body: { partitions: 1 } }],
        };
        out[row.id] = await httpPair(ctx, spool, baseline);
        continue;
      }
      const messages = Array.from({ length: CATCH_UP_MESSAGES }, (_, i) => sampleMessage(i).body);
      // Megabytes of message bodies per answer, so the generator's "messages per second" is MB/s.
      const megabytes = JSON.stringify(messages).length / 1e6;
      const spool: HttpPhase = {
        phase: "spool", method: "GET", path: `/v1/stream/${name}?offset=-1`, connections: 8, messagesPerRequest: megabytes,
        setup: [{ method: "PUT", path: `/v1/stream/${name}` }, { method: "POST", path: `/v1/stream/${name}`, body: messages }],
      };
      const baseline: HttpPhase = {
        phase: "baseline", method: "GET", path: `/v1/topics/${name}-topic/messages?limit=${CATCH_UP_MESSAGES}`, connections: 8,
        messagesPerRequest: megabytes,
        setup: [
          { method: "PUT", path: `/v1/topics/${name}-topic`, body: { partitions: 1 } },
          { method: "POST", path: `/v1/topics/${name}-topic/messages`, body: { messages: messages.map((body) => ({ body })) } },
        ],
      };
      out[row.id] = await httpPair(ctx, spool, baseline);
    }
    return out;
  },
};
