/**
 * A ZIP writer with traditional PKWARE encryption ("ZipCrypto"), for handing quarantined samples to
 * an analyst the way malware researchers exchange them (password `infected` by convention).
 *
 * In: an open output file, entries given as a name, a size, a CRC-32 known in advance, and a
 * producer of their bytes. Out: a ZIP (entries stored, each encrypted with the password) that
 * `unzip -P` and `7z x -p` open. Why ZipCrypto and not AES: it is what every unzip opens, and the
 * point is to keep samples from being opened or scanned by accident, not to keep secrets.
 * Entries of 4 GiB or more (ZIP64) are refused with an error naming the entry.
 */
import { randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { crc32Byte } from '../../core/crc32.js';

/** Traditional PKWARE encryption state (APPNOTE 6.1). */
class ZipCrypto {
  private k0 = 0x12345678;
  private k1 = 0x23456789;
  private k2 = 0x34567890;
  constructor(password: Buffer) {
    for (const b of password) this.update(b);
  }
  private update(b: number): void {
    this.k0 = crc32Byte(this.k0, b);
    this.k1 = (this.k1 + (this.k0 & 0xff)) >>> 0;
    this.k1 = (Math.imul(this.k1, 134775813) + 1) >>> 0;
    this.k2 = crc32Byte(this.k2, this.k1 >>> 24);
  }
  encrypt(buf: Buffer): Buffer {
    const out = Buffer.allocUnsafe(buf.length);
    for (let i = 0; i < buf.length; i++) {
      const t = (this.k2 | 2) & 0xffff;
      const p = buf[i]!;
      out[i] = p ^ (((t * (t ^ 1)) >>> 8) & 0xff);
      this.update(p);
    }
    return out;
  }
}

export interface ZipEntry {
  name: string;
  size: number;
  crc: number;
  /** Writes the entry's bytes, in order, through `put`; must produce exactly `size` bytes. */
  produce: (put: (chunk: Buffer) => Promise<void>) => Promise<void>;
}

function dosDateTime(d: Date): { time: number; date: number } {
  const y = Math.max(1980, d.getFullYear());
  return {
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1),
    date: ((y - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
  };
}

const LIMIT = 0xffffffff;

/** Writes a whole ZIP of `entries` to `out` (from offset 0), every entry encrypted with `password`. */
export async function writeEncryptedZip(out: FileHandle, entries: ZipEntry[], password: string, now = new Date()): Promise<number> {
  const pw = Buffer.from(password, 'utf8');
  const { time, date } = dosDateTime(now);
  let pos = 0;
  const write = async (b: Buffer): Promise<void> => {
    let off = 0;
    while (off < b.length) {
      const { bytesWritten } = await out.write(b, off, b.length - off, pos);
      off += bytesWritten;
      pos += bytesWritten;
    }
  };
  const central: Buffer[] = [];
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const csize = e.size + 12;
    if (csize > LIMIT || pos > LIMIT) throw new Error(`${e.name}: 4 GiB or more (ZIP64 is not supported)`);
    const offset = pos;
    const flags = 0x0001 | 0x0800; // encrypted, UTF-8 names
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt32LE(e.crc, 14);
    local.writeUInt32LE(csize, 18);
    local.writeUInt32LE(e.size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    await write(Buffer.concat([local, name]));
    const zc = new ZipCrypto(pw);
    const header = randomBytes(12);
    header[11] = e.crc >>> 24; // the check byte unzip compares after decrypting the header
    await write(zc.encrypt(header));
    let produced = 0;
    await e.produce(async (chunk) => {
      produced += chunk.length;
      await write(zc.encrypt(chunk));
    });
    if (produced !== e.size) throw new Error(`${e.name}: produced ${produced} bytes, expected ${e.size}`);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE((3 << 8) | 20, 4); // made by Unix
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(flags, 8);
    c.writeUInt16LE(0, 10);
    c.writeUInt16LE(time, 12);
    c.writeUInt16LE(date, 14);
    c.writeUInt32LE(e.crc, 16);
    c.writeUInt32LE(csize, 20);
    c.writeUInt32LE(e.size, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt16LE(0, 30);
    c.writeUInt16LE(0, 32);
    c.writeUInt16LE(0, 34);
    c.writeUInt16LE(0, 36);
    c.writeUInt32LE(((0o100600 << 16) >>> 0), 38); // a plain, non-executable file
    c.writeUInt32LE(offset, 42);
    central.push(Buffer.concat([c, name]));
  }
  const cdStart = pos;
  for (const c of central) await write(c);
  const cdSize = pos - cdStart;
  if (entries.length > 0xffff || cdStart > LIMIT) throw new Error('too many entries or too large for a ZIP without ZIP64');
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdSize, 12);
  end.writeUInt32LE(cdStart, 16);
  await write(end);
  return pos;
}
