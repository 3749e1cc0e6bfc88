/**
 * Bounds-checked reading of untrusted bytes.
 *
 * In: a Uint8Array. Out: integers and slices, or `undefined` past the end: reads fail softly, so a
 * truncated header is a parse result, never an exception or an out-of-range read. Sizes from the
 * input go through `checkedAdd` so that offset + length cannot overflow into a bogus in-range value.
 */

export class ByteReader {
  constructor(readonly bytes: Uint8Array) {}

  get length(): number { return this.bytes.length; }

  has(offset: number, length: number): boolean {
    return Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0 && offset + length <= this.bytes.length;
  }

  u8(offset: number): number | undefined {
    return this.has(offset, 1) ? this.bytes[offset] : undefined;
  }

  u16le(offset: number): number | undefined {
    if (!this.has(offset, 2)) return undefined;
    const b = this.bytes;
    return b[offset]! | (b[offset + 1]! << 8);
  }

  u16be(offset: number): number | undefined {
    if (!this.has(offset, 2)) return undefined;
    const b = this.bytes;
    return (b[offset]! << 8) | b[offset + 1]!;
  }

  u32le(offset: number): number | undefined {
    if (!this.has(offset, 4)) return undefined;
    const b = this.bytes;
    return (b[offset]! | (b[offset + 1]! << 8) | (b[offset + 2]! << 16)) + b[offset + 3]! * 0x1000000;
  }

  u32be(offset: number): number | undefined {
    if (!this.has(offset, 4)) return undefined;
    const b = this.bytes;
    return b[offset]! * 0x1000000 + ((b[offset + 1]! << 16) | (b[offset + 2]! << 8) | b[offset + 3]!);
  }

  /** 64-bit little-endian as a number; undefined if it does not fit in a safe integer. */
  u64le(offset: number): number | undefined {
    const lo = this.u32le(offset);
    const hi = this.u32le(offset + 4);
    if (lo === undefined || hi === undefined) return undefined;
    const v = hi * 0x100000000 + lo;
    return Number.isSafeInteger(v) ? v : undefined;
  }

  u64be(offset: number): number | undefined {
    const hi = this.u32be(offset);
    const lo = this.u32be(offset + 4);
    if (lo === undefined || hi === undefined) return undefined;
    const v = hi * 0x100000000 + lo;
    return Number.isSafeInteger(v) ? v : undefined;
  }

  /** A view (no copy) of `length` bytes at `offset`, or undefined if it does not fit. */
  slice(offset: number, length: number): Uint8Array | undefined {
    return this.has(offset, length) ? this.bytes.subarray(offset, offset + length) : undefined;
  }

  /** Latin-1 text of `length` bytes at `offset`, or undefined. */
  latin1(offset: number, length: number): string | undefined {
    const s = this.slice(offset, length);
    return s ? Buffer.from(s.buffer, s.byteOffset, s.byteLength).toString('latin1') : undefined;
  }
}

/** a + b, or undefined if either is not a non-negative safe integer or the sum is not safe. */
export function checkedAdd(a: number, b: number): number | undefined {
  if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || a < 0 || b < 0) return undefined;
  const s = a + b;
  return Number.isSafeInteger(s) ? s : undefined;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/**
 * Endian-aware reads over one ByteReader, for formats whose byte order is only known from their
 * header (ELF, Mach-O). 64-bit values come back as bigint; reads past the end are undefined.
 */
export class EndianReader {
  constructor(readonly r: ByteReader, readonly le: boolean) {}
  u16(o: number): number | undefined { return this.le ? this.r.u16le(o) : this.r.u16be(o); }
  u32(o: number): number | undefined { return this.le ? this.r.u32le(o) : this.r.u32be(o); }
  u64(o: number): bigint | undefined {
    const a = this.u32(o);
    const b = this.u32(o + 4);
    if (a === undefined || b === undefined) return undefined;
    return this.le ? (BigInt(b) << 32n) | BigInt(a) : (BigInt(a) << 32n) | BigInt(b);
  }
  /** A 32-bit or 64-bit word, as bigint. */
  word(o: number, bits: 32 | 64): bigint | undefined {
    if (bits === 64) return this.u64(o);
    const v = this.u32(o);
    return v === undefined ? undefined : BigInt(v);
  }
}
