/**
 * The SQS-compatible API (API.md, SQS-compatible API): `POST /` (and `GET /` for presigned
 * query requests) speaking AWS JSON 1.0 and the query protocol, and the same on a queue URL
 * `/000000000000/<name>`, as older SDKs send. A request is authenticated by SigV4 (header or
 * presigned query; access keys, or the admin key as the access key `admin`), then its action
 * runs against the same queue objects `/v1` uses. Every answer, errors included, is in
 * AWS's shape for the request's protocol; nothing here answers with Spool's `/v1` errors.
 * Mounted outside `/v1`, so none of its middleware (bearer auth, JSON bodies) applies.
 */
import { Hono, type Context } from "hono";
import type { AppEnv } from "../app-env";
import { lookupAccessKey, type Credential } from "../auth";
import { maxBodyBytes, readBody } from "../body";
import { describeForLog } from "../http";
import { ACCESS_KEY_ID_PATTERN, ADMIN_ACCESS_KEY_ID } from "../../durable-objects/catalog/keys";
import { now } from "../../durable-objects/shared/clock";
import { ACCOUNT_ID, type SqsContext } from "./context";
import { SqsError, sqsErrorOf } from "./errors";
import { MESSAGE_ACTIONS } from "./message-actions";
import { parseRequest, protocolOf, render, renderError, type Protocol } from "./protocol";
import { QUEUE_ACTIONS, type SqsAction } from "./queue-actions";
import { checkTime, readClaim, verifySignature, type SignedRequest } from "./sigv4";

const ACTIONS: Record<string, SqsAction> = { ...QUEUE_ACTIONS, ...MESSAGE_ACTIONS };
/** SQS actions Spool does not implement (permissions, message move tasks). */
const UNSUPPORTED = new Set(["AddPermission", "RemovePermission", "StartMessageMoveTask", "CancelMessageMoveTask", "ListMessageMoveTasks"]);

export const sqs = new Hono<AppEnv>();

sqs.on(["GET", "POST"], "/", (c) => handle(c, null));
// A literal account segment: a pattern would make every two-segment path look like an SQS
// route to the 405 check (worker/http.ts methodNotAllowed).
sqs.on(["GET", "POST"], `/${ACCOUNT_ID}/:queue`, (c) => handle(c, c.req.param("queue")));

async function handle(c: Context<AppEnv>, pathQueue: string | null): Promise<Response> {
  const requestId = crypto.randomUUID();
  const raw = c.req.raw;
  const protocol: Protocol = protocolOf(raw.headers);
  try {
    const url = new URL(raw.url);
    const body = await readSqsBody(raw, c.env.SPOOL_MAX_BODY_BYTES);
    const signed: SignedRequest = { method: raw.method, url, headers: raw.headers, body };
    const { credential, region } = await authenticate(c, signed);
    const { action, input } = parseRequest(protocol, raw.headers, url, body);
    const run = Object.hasOwn(ACTIONS, action) ? ACTIONS[action] : undefined;
    if (!run) {
      throw UNSUPPORTED.has(action)
        ? new SqsError("UnsupportedOperation", `Spool does not implement ${action}.`)
        : new SqsError("InvalidAction", `The action ${action.slice(0, 100)} is not valid for this endpoint.`);
    }
    const ctx: SqsContext = { env: c.env, credential, origin: url.origin, region, pathQueue: pathQueue === null ? null : decodeQueue(pathQueue) };
    return render(protocol, action, await run(ctx, input), requestId);
  } catch (err) {
    const sqsError = sqsErrorOf(err);
    if (sqsError.status >= 500) console.error(`sqs: unhandled error: ${describeForLog(err)}`);
    return renderError(protocol, sqsError, requestId);
  }
}

function decodeQueue(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * Verifies the request's SigV4 signature with the secret of the access key it names (the
 * admin key is the key `admin`). Unknown keys are `InvalidClientTokenId`, a wrong signature
 * `SignatureDoesNotMatch`, a request signed more than 15 minutes away `RequestExpired`.
 */
async function authenticate(c: Context<AppEnv>, req: SignedRequest): Promise<{ credential: Credential; region: string }> {
  const adminKey = c.env.SPOOL_ADMIN_KEY;
  if (!adminKey) throw new SqsError("ServiceUnavailable", "SPOOL_ADMIN_KEY is not configured; the broker refuses all requests.");
  const claim = readClaim(req);
  checkTime(claim, now());
  let secret: string | null = null;
  let credential: Credential | null = null;
  if (claim.accessKeyId === ADMIN_ACCESS_KEY_ID) {
    secret = adminKey;
    credential = { type: "admin" };
  } else if (ACCESS_KEY_ID_PATTERN.test(claim.accessKeyId)) {
    const key = await lookupAccessKey(c.env, claim.accessKeyId);
    if (key) {
      secret = key.secretAccessKey;
      credential = { type: "key", accessKeyId: key.accessKeyId, capabilities: key.capabilities };
    }
  }
  if (secret === null || credential === null) {
    throw new SqsError("InvalidClientTokenId", "The security token included in the request is invalid.");
  }
  await verifySignature(req, claim, secret);
  return { credential, region: claim.region };
}

/** The request body, refused past `SPOOL_MAX_BODY_BYTES` before it is read whole. */
function readSqsBody(req: Request, configured: string | undefined): Promise<Uint8Array> {
  const limit = maxBodyBytes(configured);
  return readBody(req, limit, { tooLarge: () => new SqsError("InvalidParameterValue", `The request body exceeds ${limit} bytes.`) });
}
