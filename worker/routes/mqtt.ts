/**
 * /v1/mqtt: MQTT 3.1.1 and 5.0 over WebSocket (API.md, MQTT over WebSocket). The Worker
 * only picks the subprotocol and hands the upgrade to a new MqttConnection object with the
 * credential it verified from `?token=` or the Authorization header, if any (the client's
 * own CONNECT password usually carries it; worker/auth.ts lets the upgrade through
 * without one). Everything MQTT happens in the object (durable-objects/mqtt/).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { newMqttConnection } from "../../durable-objects/env";
import { SUBPROTOCOL_HEADER, UPGRADE_CREDENTIAL_HEADER, type MqttCredential } from "../../durable-objects/mqtt/auth";
import { ApiError } from "../../durable-objects/shared/errors";
import { newApp } from "../http";
import { errorResponses } from "../schemas";

export const mqtt = newApp();

/** The WebSocket subprotocols of MQTT: `mqtt` (3.1.1 and 5.0), `mqttv3.1` (older clients). */
const SUBPROTOCOLS = ["mqtt", "mqttv3.1"];

mqtt.openapi(
  createRoute({
    method: "get", path: "/",
    summary: "MQTT 3.1.1 and 5.0 over WebSocket (subprotocol `mqtt`)",
    description: "Binary frames carry MQTT packets. The CONNECT password is a token, an access key `id:secret` or the admin key; " +
      "`?token=` works too. An MQTT topic's first level names the Spool topic; the full MQTT topic is the message key and header `mqtt-topic`.",
    request: { query: z.object({ token: z.string().optional().openapi({ description: "a capability token, for clients that cannot set headers" }) }) },
    responses: { 101: { description: "switching protocols" }, ...errorResponses(426, 503) },
  }),
  async (c) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      throw new ApiError("UPGRADE_REQUIRED", "this endpoint speaks MQTT over WebSocket: send 'Upgrade: websocket' with subprotocol 'mqtt'");
    }
    const offered = (c.req.header("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim().toLowerCase());
    const protocol = SUBPROTOCOLS.find((p) => offered.includes(p));
    const headers: Record<string, string> = { upgrade: "websocket" };
    if (protocol) headers[SUBPROTOCOL_HEADER] = protocol;
    const cred = c.get("credential");
    if (cred) headers[UPGRADE_CREDENTIAL_HEADER] = JSON.stringify(cred satisfies MqttCredential);
    return newMqttConnection(c.env).fetch(new Request("https://mqtt.internal/connect", { headers }));
  },
);
