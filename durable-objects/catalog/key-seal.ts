/**
 * Sealing access-key secrets at rest. The server must be able to read a key's secret back
 * (SigV4 verification needs the secret itself, not a hash of it), so secrets are encrypted
 * rather than hashed: AES-256-GCM (WebCrypto) under a key derived with HKDF-SHA-256 from
 * `SPOOL_TOKEN_SECRET`, a fresh 96-bit IV per seal, and the access key id as additional
 * data, so a sealed secret copied onto another key's row does not open.
 *
 * Sealed form: `v1.<base64url IV>.<base64url ciphertext+tag>`.
 */

const FORMAT = "v1";
const encoder = new TextEncoder();
const SALT = encoder.encode("spool/access-keys");
const INFO = encoder.encode("access key secret sealing: AES-256-GCM, format v1");

/** Derived keys by master secret (at most the current and the previous one in practice). */
const derived = new Map<string, Promise<CryptoKey>>();

function sealingKey(master: string): Promise<CryptoKey> {
  let key = derived.get(master);
  if (!key) {
    key = crypto.subtle
      .importKey("raw", encoder.encode(master), "HKDF", false, ["deriveKey"])
      .then((ikm) =>
        crypto.subtle.deriveKey(
          { name: "HKDF", hash: "SHA-256", salt: SALT, info: INFO },
          ikm,
          { name: "AES-GCM", length: 256 },
          false,
          ["encrypt", "decrypt"],
        ),
      );
    derived.set(master, key);
  }
  return key;
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
}

/** Encrypts `secret` for the key `accessKeyId` under `master` (SPOOL_TOKEN_SECRET). */
export async function sealSecret(secret: string, accessKeyId: string, master: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: encoder.encode(accessKeyId) },
    await sealingKey(master),
    encoder.encode(secret),
  );
  return `${FORMAT}.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(sealed))}`;
}

/**
 * The secret sealed for `accessKeyId`, trying each master secret in order (current, then
 * previous during a rotation); `usedMaster` is the index of the one that opened it. Null
 * when none opens it (wrong master, tampered or foreign row).
 */
export async function openSecret(
  sealed: string,
  accessKeyId: string,
  masters: readonly string[],
): Promise<{ secret: string; usedMaster: number } | null> {
  const [format, ivText, dataText] = sealed.split(".");
  if (format !== FORMAT || ivText === undefined || dataText === undefined) return null;
  const iv = fromBase64Url(ivText);
  const data = fromBase64Url(dataText);
  if (!iv || !data || iv.byteLength !== 12) return null;
  for (let i = 0; i < masters.length; i++) {
    try {
      const plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv, additionalData: encoder.encode(accessKeyId) },
        await sealingKey(masters[i]!),
        data,
      );
      return { secret: new TextDecoder().decode(plain), usedMaster: i };
    } catch {
      continue; // not sealed under this master: try the next
    }
  }
  return null;
}
