/**
 * What a topic partition and its relays say to each other (RPC, never on the wire). A
 * relay holds live subscribers of one partition; the partition sends it each message once,
 * as the JSON text it serialised once for everyone (live/frames.ts), so a relay never
 * parses or stringifies a message either.
 */

/** A message as the JSON text of the API's message object, with its offset and UTF-8 size. */
export interface RelayMessage {
  offset: number;
  json: string;
  bytes: number;
}

/** The partition's position: its log's first kept offset and next offset, and which topic it is. */
export interface PartitionPosition {
  /** The topic's incarnation in the partition (new each time the topic is created). */
  incarnation: string | null;
  first: number;
  next: number;
}

/**
 * Partition → relay, after appends: the newest messages (contiguous, ending before `next`),
 * possibly none when the partition could not hand them over (the relay then reads them
 * from the log like any subscriber that fell behind its tail).
 */
export interface RelayDelivery extends PartitionPosition {
  messages: RelayMessage[];
}

/** Relay → partition: messages from `from` on, read from the log. Every kept offset in `[from, end)` is in `messages`. */
export interface RelayRead extends PartitionPosition {
  from: number;
  end: number;
  messages: RelayMessage[];
}

/** Where a relay stands: which partition it serves, in which region, which shard there. */
export interface RelayAddress {
  topic: string;
  partition: number;
  /** A Durable Object location hint, or "any" when the subscriber's region is unknown. */
  region: string;
  shard: number;
}
