/**
 * Key placement: which partition a message belongs to. A keyed message goes to
 * `hash(key) mod partitions`, a keyless one to `hash(id) mod partitions`, so a resent
 * message with the same id reaches the partition that holds its dedup record.
 * The hash is 32-bit FNV-1a over the UTF-8 bytes: tiny, stable across runtimes, and easy
 * for any client to reproduce.
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** 32-bit FNV-1a of the string's UTF-8 encoding, as an unsigned integer. */
export function fnv1a32(text: string): number {
  let h = FNV_OFFSET;
  const byte = (b: number): void => {
    h ^= b;
    h = Math.imul(h, FNV_PRIME);
  };
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) byte(c);
    else if (c < 0x800) {
      byte(0xc0 | (c >> 6));
      byte(0x80 | (c & 0x3f));
    } else if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      c = 0x10000 + ((c - 0xd800) << 10) + (text.charCodeAt(++i) - 0xdc00);
      byte(0xf0 | (c >> 18));
      byte(0x80 | ((c >> 12) & 0x3f));
      byte(0x80 | ((c >> 6) & 0x3f));
      byte(0x80 | (c & 0x3f));
    } else {
      // Lone surrogates encode as U+FFFD, as TextEncoder does.
      if (c >= 0xd800 && c < 0xe000) c = 0xfffd;
      byte(0xe0 | (c >> 12));
      byte(0x80 | ((c >> 6) & 0x3f));
      byte(0x80 | (c & 0x3f));
    }
  }
  return h >>> 0;
}

/** The partition of a message: by `key` when it has one, else by `id`. */
export function partitionFor(key: string | null | undefined, id: string, partitions: number): number {
  if (partitions === 1) return 0; // the common case needs no hash on the publish path
  return fnv1a32(key ?? id) % partitions;
}

/** UTF-8 byte length without allocating an encoded copy. */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
