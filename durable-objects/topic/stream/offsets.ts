/**
 * Durable Streams offsets: the opaque tokens the protocol hands out, and the positions
 * behind them.
 *
 * A position is the partition's log offset of the next entry to read, shifted by a fork's
 * base (stream.ts): position p holds the entry a stream's readers see p-th. The token is
 * `<position>_<byte within that entry>`, each 16 zero-padded decimal digits, so tokens
 * sort as strings exactly as positions do and never contain `,&=?/`. The byte part is
 * always 0 in minted tokens (a read returns whole entries). The shape matches the one the
 * protocol's reference server uses, which the published conformance suite hard-codes for
 * "the start of the stream" (`0000000000000000_0000000000000000`) and "past any tail"
 * (`9999999999999999_9999999999999999`); clients still must not build tokens themselves.
 */

const DIGITS = 16;
const TOKEN = /^(\d{16})_(\d{16})$/;

/** Reserved by the protocol: the start of the stream and its current tail. */
export const START_OFFSET = "-1";
export const NOW_OFFSET = "now";

/** What a client's `offset` names. A position past every real one is `Infinity`. */
export type StreamOffset = { kind: "start" } | { kind: "now" } | { kind: "position"; position: number };

/** The token of position `position`. */
export function offsetToken(position: number): string {
  return `${String(position).padStart(DIGITS, "0")}_${"0".repeat(DIGITS)}`;
}

/** Parses an offset as a client sent it; null for anything malformed (a 400). */
export function parseOffset(raw: string): StreamOffset | null {
  if (raw === START_OFFSET) return { kind: "start" };
  if (raw === NOW_OFFSET) return { kind: "now" };
  const m = TOKEN.exec(raw);
  if (!m) return null;
  // Only tokens this server mints: a byte part inside an entry is never handed out.
  if (Number(m[2]) !== 0) return null;
  const position = Number(m[1]);
  return { kind: "position", position: Number.isSafeInteger(position) ? position : Number.POSITIVE_INFINITY };
}

/** A position-valued token (no sentinels), for fork offsets; null when malformed. */
export function parsePositionToken(raw: string): number | null {
  const parsed = parseOffset(raw);
  return parsed?.kind === "position" ? parsed.position : null;
}
