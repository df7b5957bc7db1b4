/**
 * The QoS 1 deliveries a connection has sent and the client has not acknowledged (PUBACK):
 * their packets are in the store (they go to the session and are resent with DUP when it
 * resumes), their ids and sizes here, read from the store on first use after a wake. Also
 * hands out packet ids not in use (§2.2.1).
 */
import type { ConnectionStore } from "./store";

export class Inflight {
  /** Packet id → packet size, or null until first read from the store. */
  #ids: Map<number, number> | null = null;
  #bytes = 0;
  #seq = 0;
  #nextId = 1;

  constructor(private readonly store: ConnectionStore) {}

  get count(): number {
    return this.#state().size;
  }

  get bytes(): number {
    this.#state();
    return this.#bytes;
  }

  /** A packet id not in flight, or null when all 65,535 are. */
  allocate(): number | null {
    const used = this.#state();
    for (let i = 0; i < 65535; i++) {
      const id = this.#nextId;
      this.#nextId = id >= 65535 ? 1 : id + 1;
      if (!used.has(id)) return id;
    }
    return null;
  }

  /** Keeps `packet` (sent with `packetId`) until it is acknowledged. */
  add(packetId: number, packet: Uint8Array): void {
    const ids = this.#state();
    this.store.putInflight(packetId, ++this.#seq, packet);
    ids.set(packetId, packet.length);
    this.#bytes += packet.length;
  }

  /** Done with `packetId` (acknowledged, or discarded as if sent); whether it was in flight. */
  forget(packetId: number): boolean {
    const ids = this.#state();
    const size = ids.get(packetId);
    if (size === undefined) return false;
    this.store.deleteInflight(packetId);
    ids.delete(packetId);
    this.#bytes -= size;
    return true;
  }

  #state(): Map<number, number> {
    if (!this.#ids) {
      const rows = this.store.inflight();
      this.#ids = new Map(rows.map((r) => [r.packetId, r.packet.length]));
      this.#bytes = rows.reduce((n, r) => n + r.packet.length, 0);
      this.#seq = rows.reduce((n, r) => Math.max(n, r.seq), 0);
    }
    return this.#ids;
  }
}
