/**
 * The cost rows as a table, and what a stated workload would cost a month at Cloudflare's
 * published Durable Objects prices. Rows written dominate: at $1.00 per million they cost
 * 1,000 times a row read and about 7 times a request, so they are what the tests bound.
 */
import type { RowSummary } from "../summary.ts";
import { num } from "./format.ts";

/**
 * Durable Objects prices (Workers Paid plan), from the pricing page as read on the date
 * below: requests (incoming WebSocket messages at 20:1), duration, SQLite rows read and
 * written (an index entry written counts as a row, and so does a setAlarm). Each price is
 * per million, beyond the amount included every month.
 */
export const DO_PRICES = {
  page: "https://developers.cloudflare.com/durable-objects/platform/pricing/",
  readOn: "2026-11-29",
  requests: { perMillion: 0.15, included: 1_000_000 },
  gbSeconds: { perMillion: 12.5, included: 400_000 },
  rowsRead: { perMillion: 0.001, included: 25_000_000_000 },
  rowsWritten: { perMillion: 1.0, included: 50_000_000 },
} as const;

/**
 * Duration is billed while an object runs (128 MB each). The bench counts requests, not
 * object time; the example assumes each request keeps its object busy for this long, far
 * more than the ~1 ms a batch takes unloaded, to stay on the safe side.
 */
const ASSUMED_MS_PER_REQUEST = 5;
const GB_PER_OBJECT = 0.125;

/** A workload: messages a month and the operations each message goes through. */
export interface Workload {
  title: string;
  messagesPerMonth: number;
  /** Cost row ids (`cost-…`) each message passes through once. */
  steps: string[];
}

export const WORKLOADS: Workload[] = [
  {
    title: "Queue: 100 million messages a month, sent, received and acked in batches of 100",
    messagesPerMonth: 100_000_000,
    steps: ["cost-send-100", "cost-receive-100", "cost-ack-100"],
  },
  {
    title: "Topic: 100 million messages a month published in batches of 100, read by one consumer group (poll and ack by 100)",
    messagesPerMonth: 100_000_000,
    steps: ["cost-publish-100", "cost-group-poll-100", "cost-group-ack-100"],
  },
];

interface Bill {
  requests: number;
  rowsRead: number;
  rowsWritten: number;
  gbSeconds: number;
  dollars: { requests: number; rowsRead: number; rowsWritten: number; duration: number; total: number };
}

const beyond = (used: number, p: { perMillion: number; included: number }) => (Math.max(0, used - p.included) / 1e6) * p.perMillion;

/** The month's usage and bill (beyond the included amounts) of `w`, or null when a step was not measured. */
export function monthlyBill(w: Workload, rows: RowSummary[]): Bill | null {
  let requests = 0;
  let rowsRead = 0;
  let rowsWritten = 0;
  for (const id of w.steps) {
    const r = rows.find((x) => x.id === id);
    const x = r?.figure.extra;
    if (!r || r.figure.value === null || !x || x.requestsPerMsg == null || x.rowsReadPerMsg == null) return null;
    requests += x.requestsPerMsg * w.messagesPerMonth;
    rowsRead += x.rowsReadPerMsg * w.messagesPerMonth;
    rowsWritten += r.figure.value * w.messagesPerMonth;
  }
  const gbSeconds = requests * (ASSUMED_MS_PER_REQUEST / 1000) * GB_PER_OBJECT;
  const dollars = {
    requests: beyond(requests, DO_PRICES.requests),
    rowsRead: beyond(rowsRead, DO_PRICES.rowsRead),
    rowsWritten: beyond(rowsWritten, DO_PRICES.rowsWritten),
    duration: beyond(gbSeconds, DO_PRICES.gbSeconds),
    total: 0,
  };
  dollars.total = dollars.requests + dollars.rowsRead + dollars.rowsWritten + dollars.duration;
  return { requests, rowsRead, rowsWritten, gbSeconds, dollars };
}

const usd = (x: number) => `$${x >= 100 ? Math.round(x).toLocaleString("en-US") : x.toFixed(2)}`;
const millions = (x: number) => `${num(x / 1e6)} M`;

/** The cost table and the monthly examples, as Markdown lines (empty when no cost row ran). */
export function costSection(rows: RowSummary[]): string[] {
  const cost = rows.filter((r) => r.kind === "cost");
  if (cost.length === 0) return [];
  const out = [
    "Cost per message (counted by the bench Worker's meter: SQL cursors' rowsRead / rowsWritten, alarm writes, object requests):",
    "",
    "| operation | rows written / msg | rows read / msg | object requests / msg | SQL statements / msg |",
    "|---|---|---|---|---|",
  ];
  for (const r of cost) {
    const x = r.figure.extra ?? {};
    out.push(`| ${r.title} | ${num(r.figure.value)} | ${num(x.rowsReadPerMsg)} | ${num(x.requestsPerMsg)} | ${num(x.statementsPerMsg)} |`);
  }
  out.push(
    "",
    `Monthly examples at [Cloudflare's Durable Objects prices](${DO_PRICES.page}) (read ${DO_PRICES.readOn}; Workers Paid: ` +
      `requests $${DO_PRICES.requests.perMillion}/M beyond 1 M, rows written $${DO_PRICES.rowsWritten.perMillion.toFixed(2)}/M beyond 50 M, ` +
      `rows read $${DO_PRICES.rowsRead.perMillion}/M beyond 25 B, duration $${DO_PRICES.gbSeconds.perMillion}/M GB-s beyond 400,000 GB-s; ` +
      `duration assumed ${ASSUMED_MS_PER_REQUEST} ms of a 128 MB object per request; the plan's $5 base and Workers requests not included):`,
    "",
    "| workload | requests | rows written | rows read | bill beyond the included amounts |",
    "|---|---|---|---|---|",
  );
  for (const w of WORKLOADS) {
    const b = monthlyBill(w, rows);
    if (!b) continue;
    out.push(
      `| ${w.title} | ${millions(b.requests)} | ${millions(b.rowsWritten)} | ${millions(b.rowsRead)} | ` +
        `${usd(b.dollars.total)} (rows written ${usd(b.dollars.rowsWritten)}, requests ${usd(b.dollars.requests)}, ` +
        `rows read ${usd(b.dollars.rowsRead)}, duration ${usd(b.dollars.duration)}) |`,
    );
  }
  out.push("");
  return out;
}
