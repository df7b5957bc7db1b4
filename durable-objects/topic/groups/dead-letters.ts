/**
 * Consumer-group dead letters. A message whose lease ran out `maxDeliveries` times is
 * marked dead (store.ts `markDead`): its row keeps it, unacked, so the group's committed
 * offset waits for it. The alarm hands dead rows to the group's dead-letter queue through
 * the one mover (shared/dead-letters.ts): the row is settled only after the queue took the
 * letter, and a failed move is retried by alarm with the mover's backoff. The move key names
 * the partition, the group and the group's creation time here, so a group created again
 * (after its topic was deleted and created again) never collides with its former moves.
 */
import type { Env } from "../../env";
import type { DeadLetterInput } from "../../../protocol/queues";
import { now } from "../../shared/clock";
import { deadLetterRetryMs, moveKey, sendDeadLetters } from "../../shared/dead-letters";
import { deadLettered, loadGroup, moveFailed, tidy, type DueRow } from "./store";
import type { LogReader } from "../types";

/** What moving needs of the groups module. */
export interface DeadLetterContext {
  env: Env;
  sql: SqlStorage;
  log: LogReader;
  transaction<T>(fn: () => T): T;
}

/**
 * Moves `group`'s dead rows to its dead-letter queue, or drops them when it has none.
 * Never throws: a failed move leaves the rows dead, their next try after the mover's backoff.
 */
export async function moveDeadLetters(c: DeadLetterContext, group: string, rows: readonly DueRow[]): Promise<void> {
  const g = loadGroup(c.sql, group);
  const target = g?.config.deadLetterQueue ?? null;
  const letters: DeadLetterInput[] = [];
  if (g && target) {
    for (const r of rows) {
      const e = c.log.read(r.offset, 1)[0];
      if (!e || e.offset !== r.offset) continue; // gone from the log: nothing to move
      letters.push({
        moveKey: moveKey(`${g.topic}#${e.partition}/${group}`, g.createdAt, e.offset),
        id: e.id, body: e.body, headers: e.headers, attempts: r.attempts, origin: `${g.topic}/${group}`,
      });
    }
  }
  const moved = target === null || letters.length === 0 || (await sendDeadLetters(c.env, target, letters)).ok;
  const at = now();
  c.transaction(() => {
    for (const r of rows) {
      if (moved) deadLettered(c.sql, group, r.offset);
      else moveFailed(c.sql, group, r.offset, at + deadLetterRetryMs(r.moves + 1));
    }
    const fresh = loadGroup(c.sql, group);
    if (fresh && moved) tidy(c.sql, c.log, fresh);
  });
}
