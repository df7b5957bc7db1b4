/**
 * /v1/keys: access keys, the long-lived and revocable service credentials (API.md, Tokens →
 * Access keys). Admin key only for all three routes: a key or token never manages keys, so a
 * leaked credential cannot mint itself a successor before it is revoked. The Catalog keeps
 * the keys (durable-objects/catalog/keys.ts); a secret is shown once, in the create answer.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { ACCESS_KEY_ID_PATTERN, ADMIN_ACCESS_KEY_ID, type AccessKeyPage } from "../../durable-objects/catalog/keys";
import { catalogStub } from "../../durable-objects/env";
import { ApiError, unwrap } from "../../durable-objects/shared/errors";
import { forgetAccessKey, requiresAdmin } from "../auth";
import { newApp } from "../http";
import { errorResponses } from "../schemas";
import { CapabilitiesSchema } from "../tokens";
// Page sizes of `GET /v1/keys`, as of every list (API.md, Conventions → Lists).
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT } from "../../protocol/limits";

export const keys = newApp();

export const MAX_DESCRIPTION_LENGTH = 256;

const json = <S extends z.ZodType>(schema: S) => ({ content: { "application/json": { schema } } });

const AccessKeyIdSchema = z.string().openapi({ example: "SPKJ5W3QX2NDAZ7RKLM4TBVE" });

const CreateBody = z
  .object({
    capabilities: CapabilitiesSchema,
    description: z.string().max(MAX_DESCRIPTION_LENGTH).optional().openapi({ description: "free text for people, up to 256 characters" }),
  })
  .openapi("AccessKeyRequest");

const KeySchema = z
  .object({
    accessKeyId: AccessKeyIdSchema,
    capabilities: z.record(z.string(), z.array(z.string())),
    description: z.string().nullable(),
    createdAt: z.number().int().openapi({ description: "ms since the Unix epoch" }),
  })
  .openapi("AccessKey");

const NewKeySchema = KeySchema.extend({
  secretAccessKey: z.string().openapi({ description: "shown only in this answer; send `Bearer <accessKeyId>:<secretAccessKey>`" }),
}).openapi("NewAccessKey");

const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_LIST_LIMIT).optional()
    .openapi({ param: { name: "limit", in: "query" }, description: "keys per page, 1-1000 (100)" }),
  cursor: z.string().regex(ACCESS_KEY_ID_PATTERN, "not a cursor from this list").optional()
    .openapi({ param: { name: "cursor", in: "query" }, description: "`next` of the previous page" }),
});

const ListSchema = z
  .object({
    keys: z.array(KeySchema),
    next: z.string().optional().openapi({ description: "cursor of the next page; absent on the last page" }),
  })
  .openapi("AccessKeyList");

const KeyParams = z.object({
  accessKeyId: AccessKeyIdSchema.openapi({ param: { name: "accessKeyId", in: "path" } }),
});

keys.openapi(
  createRoute({
    method: "post", path: "/", summary: "Create an access key (admin key only); its secret is shown only here",
    middleware: [requiresAdmin()],
    request: { body: { ...json(CreateBody), required: true } },
    responses: { 201: { description: "the key with its secret", ...json(NewKeySchema) }, ...errorResponses(400, 401, 403, 503) },
  }),
  async (c) => {
    if (!c.env.SPOOL_TOKEN_SECRET) {
      throw new ApiError("NOT_CONFIGURED", "SPOOL_TOKEN_SECRET is not configured; access keys cannot be stored");
    }
    const { capabilities, description } = c.req.valid("json");
    return c.json(unwrap(await catalogStub(c.env).createAccessKey(capabilities, description ?? null)), 201);
  },
);

keys.openapi(
  createRoute({
    method: "get", path: "/", summary: "List access keys without their secrets (admin key only), paged",
    middleware: [requiresAdmin()],
    request: { query: ListQuery },
    responses: { 200: { description: "a page of keys in id order", ...json(ListSchema) }, ...errorResponses(400, 401, 403, 503) },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const page: AccessKeyPage = await catalogStub(c.env).listAccessKeys(limit ?? DEFAULT_LIST_LIMIT, cursor);
    return c.json(page, 200);
  },
);

keys.openapi(
  createRoute({
    method: "delete", path: "/{accessKeyId}", summary: "Revoke an access key (admin key only): refused everywhere within 10 s",
    middleware: [requiresAdmin()],
    request: { params: KeyParams },
    responses: { 204: { description: "revoked" }, ...errorResponses(401, 403, 404, 409, 503) },
  }),
  async (c) => {
    const { accessKeyId } = c.req.valid("param");
    if (accessKeyId === ADMIN_ACCESS_KEY_ID) {
      throw new ApiError("CONFLICT", "the admin key cannot be revoked here; rotate SPOOL_ADMIN_KEY instead");
    }
    const deleted = ACCESS_KEY_ID_PATTERN.test(accessKeyId) && (await catalogStub(c.env).deleteAccessKey(accessKeyId));
    forgetAccessKey(accessKeyId);
    // Echo the id only when it looks like one: a secret pasted by mistake is never repeated.
    if (!deleted) throw new ApiError("NOT_FOUND", ACCESS_KEY_ID_PATTERN.test(accessKeyId) ? `no access key '${accessKeyId}'` : "no access key with that id");
    return c.body(null, 204);
  },
);
