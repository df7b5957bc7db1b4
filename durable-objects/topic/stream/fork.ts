/**
 * Forks (PROTOCOL.md §4.2): what a source grants a new fork, and the rules a fork's
 * config follows. A fork keeps only its own data: positions below its base are read from
 * the source (read.ts), which counts its forks and, deleted while it has some, is only
 * soft-deleted (stream.ts). A sub-offset inside a byte entry makes that entry's first
 * bytes the fork's own first entry; in JSON mode a sub-offset counts whole messages,
 * each of which is an entry, so it only moves the fork point.
 */
import type { Result } from "../../../protocol/errors";
import { offsetToken } from "./offsets";
import { DEFAULT_CONTENT_TYPE, isJsonType, mediaEssence } from "./payload";
import { entryAt, tailOf, type ReadContext } from "./read";
import type { StreamMeta } from "./store";
import type { CreateStreamInput, ForkAcquireInput, ForkGrant } from "./types";

function badRequest(message: string): Result<never> {
  return { ok: false, error: { code: "BAD_REQUEST", message } };
}

/**
 * On the source: what a fork at `input` inherits, checked against the source's content
 * type and tail. Takes no reference; the caller does once the grant is made.
 */
export async function grantFork(rc: ReadContext, meta: StreamMeta, input: ForkAcquireInput): Promise<Result<ForkGrant>> {
  if (input.contentType !== null && mediaEssence(input.contentType) !== mediaEssence(meta.contentType)) {
    return { ok: false, error: { code: "CONFLICT", message: `the source stream's content type is ${meta.contentType}` } };
  }
  const tail = tailOf(rc, meta);
  const anchor = input.position ?? tail;
  if (anchor > tail) return badRequest("Stream-Fork-Offset is past the source stream's tail");
  const grant = (position: number, prefix: Uint8Array | null): Result<ForkGrant> => ({
    ok: true,
    value: { contentType: meta.contentType, ttlSeconds: meta.ttlSeconds, expiresAt: meta.expiresAt, anchor, position, prefix },
  });
  const sub = input.subOffset;
  if (sub === 0) return grant(anchor, null);
  if (isJsonType(meta.contentType)) {
    // Every JSON message is an entry: k messages past the anchor is the position anchor + k.
    if (anchor + sub > tail) return badRequest("Stream-Fork-Sub-Offset names more messages than the source holds past the fork offset");
    return grant(anchor + sub, null);
  }
  const entry = await entryAt(rc, meta, anchor);
  if (!entry.ok) return entry;
  const bytes = entry.value.parts[0];
  if (bytes === undefined) return badRequest("Stream-Fork-Sub-Offset needs data past the fork offset, and the source has none");
  if (sub > bytes.length) return badRequest("Stream-Fork-Sub-Offset is past the end of the data at the fork offset");
  if (sub === bytes.length) return grant(entry.value.next, null);
  return grant(anchor, bytes.slice(0, sub));
}

/** A fork's expiry (§4.2's table): its own TTL or Expires-At, else the source's. */
export function forkExpiry(input: Pick<CreateStreamInput, "ttlSeconds" | "expiresAt">, grant: ForkGrant): { ttlSeconds: number | null; expiresAt: number | null } {
  if (input.ttlSeconds !== null) return { ttlSeconds: input.ttlSeconds, expiresAt: null };
  if (input.expiresAt !== null) return { ttlSeconds: null, expiresAt: input.expiresAt };
  return { ttlSeconds: grant.ttlSeconds, expiresAt: grant.expiresAt };
}

/**
 * Whether a PUT asks for the stream that exists (200) or another one (409): content type,
 * expiry, closure and fork origin. A fork's PUT without an expiry asks for the one it
 * inherited; without `Stream-Fork-Offset`, for whatever fork point was taken.
 */
export function sameStreamConfig(meta: StreamMeta, input: CreateStreamInput): boolean {
  const type = input.contentType ?? (input.fork ? meta.contentType : DEFAULT_CONTENT_TYPE);
  if (mediaEssence(type) !== mediaEssence(meta.contentType)) return false;
  const inheritsExpiry = input.fork !== null && input.ttlSeconds === null && input.expiresAt === null;
  if (!inheritsExpiry && (input.ttlSeconds !== meta.ttlSeconds || input.expiresAt !== meta.expiresAt)) return false;
  if (input.closed !== meta.closed) return false;
  if ((input.fork === null) !== (meta.fork === null)) return false;
  if (input.fork && meta.fork) {
    if (input.fork.sourceTopic !== meta.fork.source) return false;
    if (input.fork.offset !== null && input.fork.offset !== meta.fork.offset) return false;
    if (input.fork.subOffset !== meta.fork.subOffset) return false;
  }
  return true;
}

/** The fork point as stored for idempotent PUTs: the anchor offset as a token. */
export function anchorToken(grant: ForkGrant): string {
  return offsetToken(grant.anchor);
}
