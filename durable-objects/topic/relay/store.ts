/**
 * A relay's own table (module "relay"): which partition it serves, from which region and
 * shard, written once by its first subscriber. A relay woken after eviction by a socket
 * (an ack that needs older messages, a publish) reads its address here. Everything else of
 * a relay lives in its sockets' attachments (the live module's tables, live/store.ts, hold
 * their deadlines) or in memory (its tail).
 */
import { migrate } from "../../shared/sql";
import type { RelayAddress } from "./types";

/** Numbered and additive: never edit one, append a new one. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE relay_address (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     topic TEXT NOT NULL,
     partition INTEGER NOT NULL,
     region TEXT NOT NULL,
     shard INTEGER NOT NULL
   )`,
];

export class RelayAddressStore {
  constructor(private readonly sql: SqlStorage) {}

  migrate(): void {
    migrate(this.sql, MIGRATIONS, "relay");
  }

  read(): RelayAddress | null {
    return this.sql.exec<{ topic: string; partition: number; region: string; shard: number }>(
      "SELECT topic, partition, region, shard FROM relay_address WHERE id = 1",
    ).toArray()[0] ?? null;
  }

  write(a: RelayAddress): void {
    this.sql.exec(
      "INSERT OR REPLACE INTO relay_address (id, topic, partition, region, shard) VALUES (1, ?, ?, ?, ?)",
      a.topic, a.partition, a.region, a.shard,
    );
  }
}
