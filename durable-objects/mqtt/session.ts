/**
 * MqttSession: one Durable Object per MQTT client id (named by it), the durable home of a
 * persistent session between connections (API.md, MQTT over WebSocket → Sessions).
 *
 * A WebSocket must be accepted before its CONNECT names the client id, so sockets live in
 * MqttConnection objects (one per connection) and this object only keeps what outlives
 * them: which connection holds the session now, the session itself while nobody does
 * (subscriptions, positions, unacknowledged QoS 1 packets), when it expires (at most a day
 * after the last disconnect), and a Last Will whose MQTT 5 delay has not run out. A second
 * CONNECT with the same client id takes the session over: `attach` asks the holding
 * connection to release it (it closes its socket and hands back its session).
 */
import { DurableObject } from "cloudflare:workers";
import { mqttConnectionStub, type Env } from "../env";
import { AlarmScheduler, earliestOf } from "../shared/alarm";
import { now, type DueReport, type RunDueOptions } from "../shared/clock";
import { migrate } from "../shared/sql";
import { publishToTopic, type PublishMessage } from "../topic/router/publish";
import { emptySession, type SessionState } from "./store";

/** Longest a session outlives its connection (API.md: up to 1 day offline). */
export const MAX_SESSION_EXPIRY_SECONDS = 86_400;

/** A Last Will held back by its MQTT 5 Will Delay Interval, ready to publish. */
export interface DelayedWill {
  topic: string;
  message: PublishMessage;
  /** Seconds after the disconnect. */
  delay: number;
}

export interface AttachResult {
  /** A session existed and continues (CONNACK Session Present). */
  present: boolean;
  state: SessionState;
}

/** What a released connection hands back: its session, and how long it was to outlive it. */
export interface Released {
  state: SessionState;
  expiry: number;
}

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE mqtt_session (id INTEGER PRIMARY KEY CHECK (id = 1), holder TEXT, expires_at INTEGER,
     state TEXT NOT NULL, will TEXT, will_at INTEGER)`,
];

interface Row {
  holder: string | null;
  expires_at: number | null;
  state: string;
  will: string | null;
  will_at: number | null;
  [column: string]: SqlStorageValue;
}

export class MqttSession extends DurableObject<Env> {
  readonly #scheduler: AlarmScheduler;
  /** Calls run one at a time: a takeover awaits the old connection, and nothing may slip in between. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#scheduler = new AlarmScheduler(ctx.storage);
    ctx.blockConcurrencyWhile(async () => migrate(ctx.storage.sql, MIGRATIONS, "mqtt-session"));
  }

  /**
   * Connection `connection` connected with this client id: takes the session over from the
   * connection holding it (if any) and answers the session it continues, or an empty one
   * (clean start, expired, or none).
   */
  async attach(connection: string, clean: boolean): Promise<AttachResult> {
    return this.#serial(async () => {
      const row = this.#row();
      let state: SessionState | null = null;
      if (row?.holder && row.holder !== connection) {
        const released = await this.#release(row.holder);
        if (released) state = released.expiry > 0 ? released.state : null;
        else if (row.expires_at !== null || row.holder) state = parseState(row.state);
      } else if (row && (row.expires_at === null || row.expires_at > now())) {
        state = parseState(row.state);
      }
      // A connection within the will delay cancels the delayed will (MQTT 5 §3.1.3.2.2).
      const present = !clean && state !== null;
      const kept = present ? state! : emptySession();
      this.ctx.storage.sql.exec(
        "INSERT OR REPLACE INTO mqtt_session (id, holder, expires_at, state, will, will_at) VALUES (1, ?, NULL, ?, NULL, NULL)",
        connection, JSON.stringify(kept, packetReplacer),
      );
      await this.#arm();
      return { present, state: kept };
    });
  }

  /**
   * Connection `connection` ended: keeps its session for `expiry` seconds (0 ends it now),
   * and holds back `will` for its delay. A connection that no longer holds the session (it
   * was taken over) changes nothing.
   */
  async detach(connection: string, state: SessionState, expiry: number, will: DelayedWill | null): Promise<void> {
    return this.#serial(async () => {
      const row = this.#row();
      if (!row || row.holder !== connection) return;
      const at = now();
      const seconds = Math.min(Math.max(expiry, 0), MAX_SESSION_EXPIRY_SECONDS);
      // The will goes at its delay or when the session ends, whichever is first (§3.1.3.2.2).
      const willAt = will ? at + Math.min(will.delay, seconds) * 1000 : null;
      if (seconds === 0 && !will) {
        await this.#scheduler.clear();
        await this.ctx.storage.deleteAll();
        return;
      }
      this.ctx.storage.sql.exec(
        "UPDATE mqtt_session SET holder = NULL, expires_at = ?, state = ?, will = ?, will_at = ? WHERE id = 1",
        at + seconds * 1000, JSON.stringify(seconds > 0 ? state : emptySession(), packetReplacer), will ? JSON.stringify(will) : null, willAt,
      );
      await this.#arm();
    });
  }

  override async alarm(): Promise<void> {
    this.#scheduler.fired();
    const row = this.#row();
    if (!row) return;
    const at = now();
    if (row.will && row.will_at !== null && row.will_at <= at) {
      const will = JSON.parse(row.will) as DelayedWill;
      try {
        await publishToTopic(this.env, will.topic, [will.message]);
      } catch (err) {
        console.error("mqtt: publishing a delayed will failed", err instanceof Error ? err.message : String(err));
      }
      this.ctx.storage.sql.exec("UPDATE mqtt_session SET will = NULL, will_at = NULL WHERE id = 1");
    }
    const after = this.#row();
    if (after && after.holder === null && after.expires_at !== null && after.expires_at <= at && after.will === null) {
      await this.#scheduler.clear();
      await this.ctx.storage.deleteAll();
      return;
    }
    await this.#arm();
  }

  /**
   * The test kit's `advanceTime` (worker/test-control.ts; harmless anywhere, it does what the
   * alarm would): publishes a delayed will or ends an expired session now if its time has
   * come on the objects' clock, which a test moved; else re-arms the alarm for it.
   */
  async runDue(options: RunDueOptions = {}): Promise<DueReport> {
    return this.#serial(async () => {
      const next = this.#deadline();
      if (next === null || next > now()) {
        if (options.rearm !== false) await this.#scheduler.rearm(next);
        return { ran: false, next };
      }
      await this.#scheduler.takeOver();
      await this.alarm();
      return { ran: true, next: this.#deadline() };
    });
  }

  async #release(holder: string): Promise<Released | null> {
    try {
      return await mqttConnectionStub(this.env, holder).release();
    } catch (err) {
      console.error("mqtt: the connection holding a session did not release it", err instanceof Error ? err.message : String(err));
      return null;
    }
  }

  #row(): Row | null {
    return this.ctx.storage.sql.exec<Row>("SELECT holder, expires_at, state, will, will_at FROM mqtt_session WHERE id = 1").toArray()[0] ?? null;
  }

  async #arm(): Promise<void> {
    await this.#scheduler.arm(this.#deadline());
  }

  /** When the alarm is needed: the session's expiry while no connection holds it, or a delayed will. */
  #deadline(): number | null {
    const row = this.#row();
    const expiry = row && row.holder === null ? row.expires_at : null;
    return earliestOf(expiry, row?.will_at ?? null);
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

/** Packets (Uint8Array) as base64 inside the stored JSON. */
function packetReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) {
    let s = "";
    for (let i = 0; i < value.length; i += 0x8000) s += String.fromCharCode(...value.subarray(i, i + 0x8000));
    return { $bytes: btoa(s) };
  }
  return value;
}

function parseState(text: string): SessionState {
  return JSON.parse(text, (_key, value: unknown) => {
    if (value && typeof value === "object" && "$bytes" in value) {
      const s = atob((value as { $bytes: string }).$bytes);
      const out = new Uint8Array(s.length);
      for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
      return out;
    }
    return value;
  }) as SessionState;
}
