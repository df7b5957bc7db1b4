/**
 * `publish` frames on a subscription socket. Keyed messages may belong to other
 * partitions, so a frame takes the same path as `POST /v1/topics/{t}/messages`
 * (topic/router/publish.ts) and is answered with a `published` frame, or an `error` frame
 * carrying the same code the HTTP route would answer with. A `ref` on the frame is echoed,
 * so a client can match answers to frames.
 */
import type { Env } from "../../env";
import { asApiError } from "../../shared/errors";
import { parsePublishBody, publishToTopic } from "../router/publish";

export async function handlePublishFrame(env: Env, topic: string, frame: { messages?: unknown; ref?: unknown }): Promise<string> {
  const ref = typeof frame.ref === "string" || typeof frame.ref === "number" ? { ref: frame.ref } : {};
  try {
    const messages = parsePublishBody({ messages: frame.messages });
    const published = await publishToTopic(env, topic, messages);
    return JSON.stringify({ type: "published", messages: published, ...ref });
  } catch (err) {
    const e = asApiError(err);
    if (e.code === "INTERNAL") console.error("publish frame failed", err);
    return JSON.stringify({ type: "error", code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}), ...ref });
  }
}
