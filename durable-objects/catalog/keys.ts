/**
 * Access keys: long-lived, revocable service credentials (API.md, Tokens → Access keys),
 * kept by the Catalog. This module owns their table, all its SQL, and how ids and secrets
 * are made. Secrets are stored sealed (key-seal.ts), never in clear and never logged.
 */
import { sealSecret, openSecret } from "./key-seal";

/** The keys table, numbered migrations of the Catalog's "keys" module (additive only). */
export const KEY_MIGRATIONS = [
  `CREATE TABLE access_keys (
     id TEXT PRIMARY KEY,
     sealed_secret TEXT NOT NULL,
     capabilities TEXT NOT NULL,
     description TEXT,
     created_at INTEGER NOT NULL
   ) WITHOUT ROWID`,
];

/** `SPK` and 20 base32 characters (RFC 4648 alphabet): 100 random bits, as AWS-style ids look. */
export const ACCESS_KEY_ID_PATTERN = /^SPK[A-Z2-7]{20}$/;
/** The id under which the admin key acts as an access key (it is never stored). */
export const ADMIN_ACCESS_KEY_ID = "admin";
export const SECRET_ACCESS_KEY_LENGTH = 40;

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/** No `/` or `+`: a secret travels in `Bearer id:secret` and MQTT passwords unescaped. */
const BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** `length` characters of `alphabet`, uniformly (rejection sampling: no modulo bias). */
function randomString(alphabet: string, length: number): string {
  const limit = 256 - (256 % alphabet.length);
  let out = "";
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (byte < limit && out.length < length) out += alphabet[byte % alphabet.length];
    }
  }
  return out;
}

export function newAccessKeyId(): string {
  return `SPK${randomString(BASE32, 20)}`;
}

export function newSecretAccessKey(): string {
  return randomString(BASE62, SECRET_ACCESS_KEY_LENGTH);
}

export type KeyCapabilities = Record<string, string[]>;

/** What anyone may see of a key: everything but its secret. */
export interface AccessKeyInfo {
  accessKeyId: string;
  capabilities: KeyCapabilities;
  description: string | null;
  /** ms since the Unix epoch */
  createdAt: number;
}

/** The answer to creating a key: the only time its secret is shown. */
export interface NewAccessKey extends AccessKeyInfo {
  secretAccessKey: string;
}

/** What the Worker needs to authenticate a request made with a key. */
export interface AccessKeyCredential {
  accessKeyId: string;
  secretAccessKey: string;
  capabilities: KeyCapabilities;
}

export interface AccessKeyPage {
  keys: AccessKeyInfo[];
  /** The id to pass as `after` for the next page; absent on the last page. */
  next?: string;
}

/** A row as SQLite returns it (a type alias: `exec<T>` wants an indexable row type). */
type KeyRow = {
  id: string;
  sealed_secret: string;
  capabilities: string;
  description: string | null;
  created_at: number;
};

function infoOf(row: Omit<KeyRow, "sealed_secret">): AccessKeyInfo {
  return {
    accessKeyId: row.id,
    capabilities: JSON.parse(row.capabilities) as KeyCapabilities,
    description: row.description,
    createdAt: row.created_at,
  };
}

/** The Catalog's keys table. `masters` are the secrets that seal: current first, then previous. */
export class KeyStore {
  constructor(
    private readonly sql: SqlStorage,
    private readonly masters: () => readonly string[],
  ) {}

  /** Makes a key with a fresh id and secret. Needs a master secret (the caller checks). */
  async create(capabilities: KeyCapabilities, description: string | null, createdAt: number): Promise<NewAccessKey> {
    const master = this.masters()[0];
    if (!master) throw new Error("no sealing secret"); // callers check first; never reached
    const accessKeyId = newAccessKeyId();
    const secretAccessKey = newSecretAccessKey();
    const sealed = await sealSecret(secretAccessKey, accessKeyId, master);
    this.sql.exec(
      "INSERT INTO access_keys (id, sealed_secret, capabilities, description, created_at) VALUES (?, ?, ?, ?, ?)",
      accessKeyId, sealed, JSON.stringify(capabilities), description, createdAt,
    );
    return { accessKeyId, secretAccessKey, capabilities, description, createdAt };
  }

  /**
   * A key with its secret, or null when there is no such key or no master secret opens it.
   * A secret sealed under the previous master is sealed again under the current one, so a
   * rotation completes as keys are used.
   */
  async credential(accessKeyId: string): Promise<AccessKeyCredential | null> {
    const row = this.sql
      .exec<KeyRow>("SELECT id, sealed_secret, capabilities, description, created_at FROM access_keys WHERE id = ?", accessKeyId)
      .toArray()[0];
    if (!row) return null;
    const masters = this.masters();
    const opened = await openSecret(row.sealed_secret, row.id, masters);
    if (!opened) return null;
    if (opened.usedMaster > 0 && masters[0]) {
      const resealed = await sealSecret(opened.secret, row.id, masters[0]);
      // Only if the key still exists unchanged: a delete meanwhile must stay a delete.
      this.sql.exec("UPDATE access_keys SET sealed_secret = ? WHERE id = ? AND sealed_secret = ?", resealed, row.id, row.sealed_secret);
    }
    return { accessKeyId: row.id, secretAccessKey: opened.secret, capabilities: JSON.parse(row.capabilities) as KeyCapabilities };
  }

  /** Up to `limit` keys in id order, after the id `after` (exclusive) when given. */
  list(limit: number, after?: string): AccessKeyPage {
    const rows = this.sql
      .exec<Omit<KeyRow, "sealed_secret">>(
        "SELECT id, capabilities, description, created_at FROM access_keys WHERE id > ? ORDER BY id LIMIT ?",
        after ?? "", limit + 1,
      )
      .toArray();
    const keys = rows.slice(0, limit).map(infoOf);
    return rows.length > limit ? { keys, next: keys[keys.length - 1]!.accessKeyId } : { keys };
  }

  /** Removes a key; false when there was none. */
  delete(accessKeyId: string): boolean {
    return this.sql.exec("DELETE FROM access_keys WHERE id = ?", accessKeyId).rowsWritten > 0;
  }
}
