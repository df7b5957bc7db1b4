/**
 * The MQTT data representations (MQTT 5.0 §1.5, the same in 3.1.1): big-endian integers,
 * variable byte integers, UTF-8 strings and binary data with a two-byte length. The reader
 * never reads past its end and refuses what the spec calls malformed (a string that is not
 * well-formed UTF-8 or holds U+0000, a varint longer than four bytes).
 */
import { MalformedPacket } from "./reasons";

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const ENCODER = new TextEncoder();

/** Largest value of a variable byte integer (four bytes). */
export const MAX_VARINT = 268_435_455;

export class ByteReader {
  offset: number;
  readonly end: number;

  constructor(readonly bytes: Uint8Array, start = 0, end = bytes.length) {
    this.offset = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  #need(n: number): void {
    if (this.offset + n > this.end) throw new MalformedPacket("packet too short");
  }

  byte(): number {
    this.#need(1);
    return this.bytes[this.offset++]!;
  }

  u16(): number {
    this.#need(2);
    const v = (this.bytes[this.offset]! << 8) | this.bytes[this.offset + 1]!;
    this.offset += 2;
    return v;
  }

  u32(): number {
    this.#need(4);
    const b = this.bytes;
    const o = this.offset;
    this.offset += 4;
    return ((b[o]! << 24) >>> 0) + (b[o + 1]! << 16) + (b[o + 2]! << 8) + b[o + 3]!;
  }

  varint(): number {
    let value = 0;
    let multiplier = 1;
    for (let i = 0; i < 4; i++) {
      const b = this.byte();
      value += (b & 0x7f) * multiplier;
      if ((b & 0x80) === 0) return value;
      multiplier *= 128;
    }
    throw new MalformedPacket("variable byte integer longer than four bytes");
  }

  binary(): Uint8Array {
    const n = this.u16();
    this.#need(n);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** A UTF-8 string (§1.5.4): well-formed and without U+0000, else malformed. */
  string(): string {
    const raw = this.binary();
    let text: string;
    try {
      text = STRICT_UTF8.decode(raw);
    } catch {
      throw new MalformedPacket("string is not well-formed UTF-8");
    }
    if (text.includes("\u0000")) throw new MalformedPacket("string contains U+0000");
    return text;
  }

  /** Everything left, as a view (the payload of a PUBLISH). */
  rest(): Uint8Array {
    const out = this.bytes.subarray(this.offset, this.end);
    this.offset = this.end;
    return out;
  }
}

/** Builds a packet from parts, without copying payloads until `toBytes`. */
export class ByteWriter {
  #parts: Uint8Array[] = [];
  #small: number[] = [];
  length = 0;

  #flush(): void {
    if (this.#small.length === 0) return;
    this.#parts.push(Uint8Array.from(this.#small));
    this.#small = [];
  }

  byte(v: number): void {
    this.#small.push(v & 0xff);
    this.length += 1;
  }

  u16(v: number): void {
    this.byte(v >> 8);
    this.byte(v);
  }

  u32(v: number): void {
    this.byte(v >>> 24);
    this.byte(v >>> 16);
    this.byte(v >>> 8);
    this.byte(v);
  }

  varint(v: number): void {
    let n = v;
    do {
      let b = n % 128;
      n = Math.floor(n / 128);
      if (n > 0) b |= 0x80;
      this.byte(b);
    } while (n > 0);
  }

  raw(bytes: Uint8Array): void {
    this.#flush();
    this.#parts.push(bytes);
    this.length += bytes.length;
  }

  binary(bytes: Uint8Array): void {
    this.u16(bytes.length);
    this.raw(bytes);
  }

  string(s: string): void {
    this.binary(ENCODER.encode(s));
  }

  append(other: ByteWriter): void {
    this.raw(other.toBytes());
  }

  toBytes(): Uint8Array {
    this.#flush();
    if (this.#parts.length === 1) return this.#parts[0]!;
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.#parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** UTF-8 bytes of a string. */
export function utf8(s: string): Uint8Array {
  return ENCODER.encode(s);
}

/** The string of well-formed UTF-8 bytes, or null when they are not. */
export function strictUtf8(bytes: Uint8Array): string | null {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    return null;
  }
}
