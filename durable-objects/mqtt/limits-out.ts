/**
 * The client's MQTT 5 Maximum Packet Size (CONNECT property 0x27) applied to what the server
 * sends. §3.1.2.11.4: the server MUST NOT send a packet larger than it [MQTT-3.1.2-24]; a
 * PUBLISH too large is discarded without sending and the server behaves as if it had
 * completed sending it [MQTT-3.1.2-25] (delivery.ts: a QoS 1 one is not kept in flight and
 * its partition moves on). A Reason String or User Property is left out of a packet it would
 * push over the limit (§3.14.2.2.3 [MQTT-3.14.2-3], and the same rule for every packet
 * that carries one); Spool's only optional reason string is on DISCONNECT.
 */
import { encodeDisconnect } from "./codec";
import type { ConnectionRecord } from "./store";

/** Whether `bytes` may go to the client of `record` (no limit before CONNECT or in 3.1.1). */
export function fitsClient(record: Pick<ConnectionRecord, "maxPacketSize"> | null, bytes: Uint8Array): boolean {
  const max = record?.maxPacketSize ?? null;
  return max === null || bytes.length <= max;
}

/** DISCONNECT `reason`, with `message` as its Reason String only if the packet still fits. */
export function disconnectWithin(record: Pick<ConnectionRecord, "maxPacketSize"> | null, reason: number, message?: string): Uint8Array {
  const full = encodeDisconnect(reason, message);
  return message === undefined || fitsClient(record, full) ? full : encodeDisconnect(reason);
}
