/**
 * Where Durable Streams live (`/v1/stream/<path>`) and which Spool topic a stream path is.
 *
 * A stream path is one or more `/`-separated segments of `A-Z a-z 0-9 . _ -`; a segment
 * neither starts nor ends with `.` nor holds `..` (so `.`, `..` and traversal never occur),
 * and the first starts with a letter or digit. The topic is the segments joined by `..`:
 * `chat/room-1` is the topic `chat..room-1`, and `topics/chat..*` in a capability covers
 * every stream under `chat/`. Since no segment holds `..`, the mapping is one-to-one; a
 * path whose topic name would be invalid (over 128 characters, say) is `400 INVALID_NAME`.
 * `__ds/…` (the protocol's reserved subscription APIs, not served) is refused that way too.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import { ApiError } from "../../durable-objects/shared/errors";
import { isValidName } from "../names";

export const STREAM_ROOT = "/v1/stream/";
/** What joins a stream path's segments in its topic name. */
export const SEGMENT_JOIN = "..";

const SEGMENT = /^[A-Za-z0-9_-](?:[A-Za-z0-9._-]*[A-Za-z0-9_-])?$/;

function invalid(path: string): ApiError {
  return new ApiError(
    "INVALID_NAME",
    "invalid stream path: segments of A-Z a-z 0-9 . _ - separated by '/', none starting or ending with '.' nor holding '..', " +
      "the first starting with a letter or digit, at most 128 characters in all",
    { field: "path", value: path.slice(0, 200) },
  );
}

/** The topic of a stream path (the URL path after `/v1/stream/`, still percent-encoded). */
export function topicOfStreamPath(encodedPath: string): string {
  let segments: string[];
  try {
    segments = encodedPath.split("/").map((s) => decodeURIComponent(s));
  } catch {
    throw invalid(encodedPath);
  }
  if (!segments.every((s) => SEGMENT.test(s) && !s.includes(SEGMENT_JOIN))) throw invalid(encodedPath);
  const topic = segments.join(SEGMENT_JOIN);
  if (!isValidName(topic)) throw invalid(encodedPath);
  return topic;
}

/** The stream path of a topic (the inverse of `topicOfStreamPath`). */
export function streamPathOfTopic(topic: string): string {
  return topic.split(SEGMENT_JOIN).map(encodeURIComponent).join("/");
}

/**
 * The topic a `Stream-Forked-From` header names: a stream URL's path on this server
 * (`/v1/stream/orders`), or a bare stream path.
 */
export function topicOfForkSource(value: string): string {
  const path = value.trim();
  const relative = path.startsWith(STREAM_ROOT) ? path.slice(STREAM_ROOT.length) : path.replace(/^\/+/, "");
  return topicOfStreamPath(relative);
}

/** Is this request for a Durable Stream? */
export function isStreamRequest(path: string): boolean {
  return path.startsWith(STREAM_ROOT);
}

/**
 * Runs `middleware` for every request except Durable Streams ones, which carry any content
 * type (not JSON), accept `?token=` on reads, may be anonymous, and tell HEAD from GET:
 * their sub-app (worker/routes/stream.ts) does its own body handling and authentication.
 */
export function exceptStreams(middleware: MiddlewareHandler<AppEnv>): MiddlewareHandler<AppEnv> {
  return async (c, next) => (isStreamRequest(c.req.path) ? next() : middleware(c, next));
}
