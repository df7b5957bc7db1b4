/**
 * A model of a global relay deployment (issue 16): N regions x M relays x S subscribers at
 * a message rate -> requests per second on each object, frames per second per relay, what
 * it costs per day, and which limit is hit first. Arithmetic only, from the numbers below
 * (each cited), so a user can size a deployment before building it:
 *
 *   npx node bench/relay/model.ts                       the scenarios of docs/live.md
 *   npx node bench/relay/model.ts 100000 5 2            subscribers, regions, messages/s
 */

/** The assumptions, each with where it comes from. */
export const ASSUMPTIONS = {
  /** SPOOL_MAX_SOCKETS_PER_OBJECT's default (protocol/limits.ts): a relay fills to this. */
  socketsPerRelay: 5000,
  /**
   * WebSocket frames one object sends per second: 25-38k measured on this project's bench
   * machine (issue 16; bench/results/latest.md fan-out rows; bench/results/relay-fanout.md
   * measured 16-22k with the load generator sharing 2 cores). The lower figure is used.
   */
  framesPerSecondPerObject: 25_000,
  /**
   * Requests one Durable Object serves per second before it is overloaded: Cloudflare's
   * guidance is about 1,000 (developers.cloudflare.com/durable-objects/reference/faq/,
   * "How much work can a single Durable Object do?").
   */
  requestsPerSecondPerObject: 1000,
  /** Workers Paid prices (developers.cloudflare.com/durable-objects/platform/pricing/). */
  usdPerMillionRequests: 0.15,
  usdPerMillionGbSeconds: 12.5,
  /** Memory an object is billed for while active (same page). */
  gbPerObject: 0.128,
  /** Incoming WebSocket messages are billed 20:1 as requests (same page, and the 2024-04-01 changelog). */
  incomingMessagesPerRequest: 20,
  /** Acks a subscriber sends per second while messages flow (the client SDK confirms every 50-100 ms when it got something). */
  acksPerSubscriberPerSecond: 1,
} as const;

export interface Deployment {
  subscribers: number;
  regions: number;
  messagesPerSecond: number;
}

export interface Sizing extends Deployment {
  relaysPerRegion: number;
  relays: number;
  /** Deliveries the partition makes per second (one per relay per message, fewer when batched). */
  partitionCallsPerSecond: number;
  /** Frames each full relay sends per second, and the share of one object's send capacity that is. */
  framesPerRelayPerSecond: number;
  relaySendLoad: number;
  /** The most messages per second full relays can fan out. */
  maxMessagesPerSecond: number;
  usdPerDay: { relayRequests: number; relayDuration: number; acks: number };
  nextLimit: string;
}

export function size(d: Deployment, a = ASSUMPTIONS): Sizing {
  const perRegion = Math.ceil(d.subscribers / d.regions);
  const relaysPerRegion = Math.ceil(perRegion / a.socketsPerRelay);
  const relays = relaysPerRegion * d.regions;
  const perRelay = Math.min(a.socketsPerRelay, perRegion);
  const framesPerRelayPerSecond = perRelay * d.messagesPerSecond;
  const relaySendLoad = framesPerRelayPerSecond / a.framesPerSecondPerObject;
  // A relay gets at most one delivery at a time: when it is busy sending, messages batch.
  const deliveriesPerRelay = Math.min(d.messagesPerSecond, relaySendLoad > 0 ? d.messagesPerSecond / Math.max(1, relaySendLoad) : 0);
  const partitionCallsPerSecond = relays * deliveriesPerRelay;
  const day = 86_400;
  const awake = Math.min(1, d.messagesPerSecond > 0.1 ? 1 : relaySendLoad); // a relay fed every < 10 s never hibernates
  const usdPerDay = {
    relayRequests: (partitionCallsPerSecond * day * a.usdPerMillionRequests) / 1e6,
    relayDuration: (relays * awake * a.gbPerObject * day * a.usdPerMillionGbSeconds) / 1e6,
    acks: ((d.subscribers * a.acksPerSubscriberPerSecond * day) / a.incomingMessagesPerRequest / 1e6) * a.usdPerMillionRequests,
  };
  const maxMessagesPerSecond = a.framesPerSecondPerObject / perRelay;
  let nextLimit = "none near";
  if (relaySendLoad >= 1) nextLimit = `relay send loop: ${perRelay} sockets x ${d.messagesPerSecond} msg/s exceeds one object's frames/s (fill relays less)`;
  else if (partitionCallsPerSecond >= a.requestsPerSecondPerObject) nextLimit = "the partition's outgoing deliveries (~1,000 requests/s per object)";
  else if (relaySendLoad > 0.5) nextLimit = `relay send loop at ${Math.round(relaySendLoad * 100)}% (max ${maxMessagesPerSecond.toFixed(1)} msg/s)`;
  else if (partitionCallsPerSecond > a.requestsPerSecondPerObject / 2) nextLimit = "the partition's deliveries past half its request budget";
  return { ...d, relaysPerRegion, relays, partitionCallsPerSecond, framesPerRelayPerSecond, relaySendLoad, maxMessagesPerSecond, usdPerDay, nextLimit };
}

export const SCENARIOS: Deployment[] = [
  { subscribers: 10_000, regions: 1, messagesPerSecond: 1 },
  { subscribers: 100_000, regions: 5, messagesPerSecond: 1 },
  { subscribers: 100_000, regions: 5, messagesPerSecond: 4 },
  { subscribers: 1_000_000, regions: 9, messagesPerSecond: 1 },
  { subscribers: 1_000_000, regions: 9, messagesPerSecond: 5 },
];

function table(rows: Sizing[]): string {
  const n = (v: number, d = 0) => v.toLocaleString("en-US", { maximumFractionDigits: d });
  return [
    "| subscribers | regions | msg/s | relays | partition calls/s | frames/s per relay | relay send load | $/day requests + duration + acks | next limit |",
    "|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ...rows.map((r) => `| ${n(r.subscribers)} | ${r.regions} | ${r.messagesPerSecond} | ${r.relays} | ${n(r.partitionCallsPerSecond)} | ${n(r.framesPerRelayPerSecond)} | ${n(r.relaySendLoad * 100)}% | ${n(r.usdPerDay.relayRequests, 2)} + ${n(r.usdPerDay.relayDuration, 2)} + ${n(r.usdPerDay.acks, 2)} | ${r.nextLimit} |`),
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [s, r, m] = process.argv.slice(2).map(Number);
  const rows = s ? [size({ subscribers: s, regions: r || 1, messagesPerSecond: m || 1 })] : SCENARIOS.map((d) => size(d));
  process.stdout.write(`${table(rows)}\n`);
}
