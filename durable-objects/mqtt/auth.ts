/**
 * Who an MQTT connection acts as, and what it may do (API.md, MQTT over WebSocket → Auth).
 * The CONNECT password is a token, an access key `id:secret` or the admin key (the user
 * name is ignored); without a password, the credential the Worker verified on the upgrade
 * (`?token=` or an Authorization header) stands. Decided once at CONNECT, kept with the
 * connection; a token's expiry ends the connection.
 */
import { timingSafeEqual } from "../shared/secrets";
import { catalogStub, type Env } from "../env";
import { ACCESS_KEY_ID_PATTERN, ADMIN_ACCESS_KEY_ID } from "../catalog/keys";
import { grants, verifyTokenClaims, type Capabilities } from "../shared/token-verify";

/** A verified credential as the connection keeps it (plain data: it is stored and sent over RPC). */
export type MqttCredential =
  | { type: "admin" }
  | { type: "token"; capabilities: Capabilities; expiresAt: number }
  | { type: "key"; accessKeyId: string; capabilities: Capabilities };

/** The internal header on which the Worker hands the object the upgrade's verified credential (JSON). */
export const UPGRADE_CREDENTIAL_HEADER = "x-spool-mqtt-credential";
/** The internal header naming the WebSocket subprotocol the Worker chose (`mqtt` or `mqttv3.1`). */
export const SUBPROTOCOL_HEADER = "x-spool-mqtt-subprotocol";


/** The credential a CONNECT password stands for, or null (CONNACK "not authorized"). */
export async function credentialOfPassword(env: Env, password: string): Promise<MqttCredential | null> {
  const admin = env.SPOOL_ADMIN_KEY;
  if (!admin || password === "") return null;
  if (timingSafeEqual(password, admin)) return { type: "admin" };
  const colon = password.indexOf(":");
  if (colon >= 0) {
    const id = password.slice(0, colon);
    const secret = password.slice(colon + 1);
    if (id === ADMIN_ACCESS_KEY_ID) return timingSafeEqual(secret, admin) ? { type: "admin" } : null;
    if (!ACCESS_KEY_ID_PATTERN.test(id) || secret === "") return null;
    const key = await catalogStub(env).accessKey(id);
    return key && timingSafeEqual(secret, key.secretAccessKey) ? { type: "key", accessKeyId: id, capabilities: key.capabilities } : null;
  }
  const claims = await verifyTokenClaims(password, env);
  return claims ? { type: "token", capabilities: claims.capabilities, expiresAt: claims.expiresAt } : null;
}

/** The credential the Worker put on the upgrade request, or null. */
export function credentialOfUpgrade(request: Request): MqttCredential | null {
  const raw = request.headers.get(UPGRADE_CREDENTIAL_HEADER);
  if (!raw) return null;
  try {
    const c = JSON.parse(raw) as MqttCredential;
    return c.type === "admin" || c.type === "token" || c.type === "key" ? c : null;
  } catch {
    return null;
  }
}

/** Whether the credential may `publish` or `subscribe` on Spool topic `topic`. */
export function mayOnTopic(cred: MqttCredential, action: "publish" | "subscribe", topic: string): boolean {
  return cred.type === "admin" || grants(cred.capabilities, "topics", action, topic);
}

/** When the credential stops being valid (ms epoch), or null. */
export function credentialExpiry(cred: MqttCredential): number | null {
  return cred.type === "token" ? cred.expiresAt : null;
}
