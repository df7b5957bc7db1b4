/**
 * Durable Streams answers as HTTP: the headers each outcome of a stream operation carries
 * (PROTOCOL.md §5), ETags and `304`, caching (§10), and the errors whose headers a client
 * acts on (a closed stream, a fenced or out-of-sequence producer).
 */
import type { Context } from "hono";
import { ApiError } from "../../durable-objects/shared/errors";
import type { AppendStreamOutcome, ReadStreamOutcome, StreamFacts } from "../../durable-objects/topic/stream/types";
import type { AppEnv } from "../app-env";
import { errorResponse } from "../errors";
import { H } from "./headers";

/** Immutable data may be cached a while; Spool streams are credentialed, so privately. */
const CACHE_DATA = "private, max-age=60, stale-while-revalidate=300";
/** The tail, metadata and an empty answer change with the next append or close. */
const CACHE_NONE = "no-store";

/** Content type, tail, closure, TTL or expiry: what HEAD says and PUT confirms. */
export function factsHeaders(facts: StreamFacts): Headers {
  const h = new Headers({ "Content-Type": facts.contentType, [H.nextOffset]: facts.next });
  if (facts.closed) h.set(H.closed, "true");
  if (facts.ttlSeconds !== null) h.set(H.ttl, String(facts.ttlSeconds));
  if (facts.expiresAt !== null) h.set(H.expiresAt, new Date(facts.expiresAt).toISOString());
  return h;
}

/** HEAD: metadata only, never cached. */
export function headResponse(facts: StreamFacts): Response {
  const h = factsHeaders(facts);
  h.set("Cache-Control", CACHE_NONE);
  return new Response(null, { status: 200, headers: h });
}

/** PUT: 201 with Location for a new stream, 200 for the same one again. */
export function createdResponse(facts: StreamFacts, created: boolean, location: string): Response {
  const h = new Headers({ "Content-Type": facts.contentType, [H.nextOffset]: facts.next });
  if (facts.closed) h.set(H.closed, "true");
  if (created) h.set("Location", location);
  return new Response(null, { status: created ? 201 : 200, headers: h });
}

/** The ETag of a read: the stream's incarnation, the range, and whether it ends the stream. */
function etagOf(r: ReadStreamOutcome): string {
  return `"${r.streamId}:${r.start}:${r.next}${r.closed && r.upToDate ? ":c" : ""}"`;
}

function matches(ifNoneMatch: string | null, etag: string): boolean {
  if (ifNoneMatch === null) return false;
  return ifNoneMatch.split(",").some((t) => {
    const tag = t.trim().replace(/^W\//, "");
    return tag === etag || tag === "*";
  });
}

/**
 * A catch-up or long-poll read that returned data (or an empty catch-up). `now`: an
 * `offset=now` read, which names the tail and is never cached or tagged; `cursor`: the
 * long-poll cursor to send.
 */
export function readResponse(r: ReadStreamOutcome, options: { now: boolean; cursor: string | null; ifNoneMatch: string | null }): Response {
  const h = new Headers({ "Content-Type": r.contentType, [H.nextOffset]: r.next });
  if (r.upToDate) h.set(H.upToDate, "true");
  if (r.closed && r.upToDate) h.set(H.closed, "true");
  else if (options.cursor !== null) h.set(H.cursor, options.cursor);
  if (options.now) {
    h.set("Cache-Control", CACHE_NONE);
    return new Response(r.payload, { status: 200, headers: h });
  }
  const etag = etagOf(r);
  h.set("ETag", etag);
  h.set("Cache-Control", r.empty ? CACHE_NONE : CACHE_DATA);
  if (matches(options.ifNoneMatch, etag)) return new Response(null, { status: 304, headers: { ETag: etag, "Cache-Control": h.get("Cache-Control")! } });
  return new Response(r.payload, { status: 200, headers: h });
}

/** A long-poll that waited in vain (or reached the end of a closed stream): 204. */
export function timedOutResponse(r: ReadStreamOutcome, cursor: string): Response {
  const h = new Headers({ [H.nextOffset]: r.next, [H.upToDate]: "true", "Cache-Control": CACHE_NONE });
  if (r.closed) h.set(H.closed, "true");
  else h.set(H.cursor, cursor);
  return new Response(null, { status: 204, headers: h });
}

/** POST's answer: 200 for a producer's new data, 204 otherwise, or the error the outcome is. */
export function appendResponse(c: Context<AppEnv>, o: AppendStreamOutcome, producerData: boolean): Response {
  const h = new Headers();
  switch (o.kind) {
    case "written":
    case "duplicate": {
      h.set(H.nextOffset, o.next);
      if (o.closed) h.set(H.closed, "true");
      if (o.producer) {
        h.set(H.producerEpoch, String(o.producer.epoch));
        h.set(H.producerSeq, String(o.producer.seq));
      }
      return new Response(null, { status: o.kind === "written" && producerData ? 200 : 204, headers: h });
    }
    case "already-closed":
      return new Response(null, { status: 204, headers: { [H.nextOffset]: o.next, [H.closed]: "true" } });
    case "closed":
      return withHeaders(errorResponse(c, new ApiError("CONFLICT", "the stream is closed and takes no more data")), { [H.closed]: "true", [H.nextOffset]: o.next });
    case "stale-epoch":
      return withHeaders(errorResponse(c, new ApiError("FORBIDDEN", `producer epoch is stale; the stream's epoch for this producer is ${o.epoch}`)), { [H.producerEpoch]: String(o.epoch) });
    case "epoch-needs-seq-0":
      return errorResponse(c, new ApiError("BAD_REQUEST", "a new producer epoch starts at Producer-Seq 0"));
    case "seq-gap":
      return withHeaders(
        errorResponse(c, new ApiError("CONFLICT", `producer sequence gap: expected ${o.expected}, received ${o.received}`, { expected: o.expected, received: o.received })),
        { [H.expectedSeq]: String(o.expected), [H.receivedSeq]: String(o.received) },
      );
    case "seq-regression":
      return errorResponse(c, new ApiError("CONFLICT", "Stream-Seq must be greater than the last one appended"));
  }
}

function withHeaders(res: Response, headers: Record<string, string>): Response {
  for (const [name, value] of Object.entries(headers)) res.headers.set(name, value);
  return res;
}
