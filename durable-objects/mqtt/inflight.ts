/**
 * The QoS 1 deliveries a connection has sent and the client has not acknowledged (PUBACK):
 * kept in memory (resent with DUP when the session resumes, handed to the session when the
 * connection ends) and written to the store only at a checkpoint (`flush`), never per
 * delivery or PUBACK: a write per message would hold every outgoing frame behind a commit
 * (the output gate). Read from the store on first use after a wake or CONNECT. Also hands
 * out packet ids not in use (§2.2.1).
 */
import type { ConnectionStore, InflightRow } from "./store";

export class Inflight {
  /** Packet id → its row (ordered by `seq` as inserted), or null until first read from the store. */
  #rows: Map<number, InflightRow> | null = null;
  /** Ids added or removed since the last `flush`. */
  readonly #dirty = new Set<number>();
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

  /** The unacknowledged deliveries, oldest first. */
  rows(): InflightRow[] {
    return [...this.#state().values()].sort((a, b) => a.seq - b.seq);
  }

  /** Forgets what memory holds: the next use reads the store (after CONNECT loaded a session). */
  reload(): void {
    this.#rows = null;
    this.#dirty.clear();
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
    const rows = this.#state();
    rows.set(packetId, { packetId, seq: ++this.#seq, packet });
    this.#dirty.add(packetId);
    this.#bytes += packet.length;
  }

  /** Done with `packetId` (acknowledged, or discarded as if sent); whether it was in flight. */
  forget(packetId: number): boolean {
    const rows = this.#state();
    const row = rows.get(packetId);
    if (!row) return false;
    rows.delete(packetId);
    this.#dirty.add(packetId);
    this.#bytes -= row.packet.length;
    return true;
  }

  /** Makes the store hold what memory holds (the changes since the last flush). */
  flush(): void {
    if (!this.#rows) return;
    for (const id of this.#dirty) {
      const row = this.#rows.get(id);
      if (row) this.store.putInflight(id, row.seq, row.packet);
      else this.store.deleteInflight(id);
    }
    this.#dirty.clear();
  }

  #state(): Map<number, InflightRow> {
    if (!this.#rows) {
      const rows = this.store.inflight();
      this.#rows = new Map(rows.map((r) => [r.packetId, r]));
      this.#bytes = rows.reduce((n, r) => n + r.packet.length, 0);
      this.#seq = rows.reduce((n, r) => Math.max(n, r.seq), 0);
    }
    return this.#rows;
  }
}
