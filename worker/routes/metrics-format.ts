/**
 * The Prometheus text exposition format (version 0.0.4) for /metrics: each family once,
 * with its HELP and TYPE lines, then its samples; label values and help text escaped as the
 * format says. The names and labels are the contract's (API.md, Console and metrics).
 */
import type { QueueFigures, TopicFigures } from "./metrics-sources";

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels = Record<string, string>;

interface Family {
  name: string;
  type: "gauge" | "counter";
  help: string;
  samples: Array<{ labels: Labels; value: number }>;
}

/** A label value as the format wants it: backslash, double quote and newline escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** HELP text escapes only backslash and newline. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function render(families: readonly Family[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",");
      lines.push(`${f.name}{${labels}} ${formatValue(s.value)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** The whole /metrics body. */
export function renderMetrics(queues: readonly QueueFigures[], topics: readonly TopicFigures[]): string {
  const family = (name: string, type: Family["type"], help: string): Family => ({ name, type, help, samples: [] });
  const messages = family("spool_queue_messages", "gauge", "Messages in a queue by state (visible, inflight, delayed).");
  const sent = family("spool_queue_sent_total", "counter", "Messages accepted by a queue (duplicates not counted).");
  const acked = family("spool_queue_acked_total", "counter", "Messages acknowledged on a queue.");
  const dead = family("spool_queue_dead_lettered_total", "counter", "Messages a queue moved to its dead-letter queue or dropped after maxReceives.");
  const nextOffset = family("spool_topic_next_offset", "gauge", "The offset the next message of a topic partition will get.");
  const bytes = family("spool_topic_bytes", "gauge", "Bytes a topic partition keeps.");
  const groupLag = family("spool_group_lag", "gauge", "Messages a consumer group has yet to ack, summed over partitions.");
  const subLag = family("spool_subscription_lag", "gauge", "Messages a subscription has yet to forward, summed over partitions.");
  const live = family("spool_live_subscribers", "gauge", "Live subscribers (WebSocket and SSE) of a topic, over all partitions.");

  for (const { name: queue, stats } of queues) {
    messages.samples.push(
      { labels: { queue, state: "visible" }, value: stats.visible },
      { labels: { queue, state: "inflight" }, value: stats.inFlight },
      { labels: { queue, state: "delayed" }, value: stats.delayed },
    );
    sent.samples.push({ labels: { queue }, value: stats.sent });
    acked.samples.push({ labels: { queue }, value: stats.acked });
    dead.samples.push({ labels: { queue }, value: stats.deadLettered });
  }
  for (const t of topics) {
    for (const p of t.partitions) {
      const labels = { topic: t.name, partition: String(p.partition) };
      nextOffset.samples.push({ labels, value: p.next });
      bytes.samples.push({ labels, value: p.bytes });
    }
    for (const g of t.groups) groupLag.samples.push({ labels: { topic: t.name, group: g.name }, value: g.lag });
    for (const s of t.subscriptions) subLag.samples.push({ labels: { topic: t.name, subscription: s.name }, value: s.lag });
    live.samples.push({ labels: { topic: t.name }, value: t.partitions.reduce((n, p) => n + p.subscribers, 0) });
  }
  return render([messages, sent, acked, dead, nextOffset, bytes, groupLag, subLag, live]);
}
