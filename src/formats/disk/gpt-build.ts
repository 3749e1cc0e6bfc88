/**
 * A writer of GUID Partition Table images of any sector size, for tests (sfdisk and sgdisk write
 * 512-byte sectors into image files).
 *
 * In: the partitions (first and last LBA, contents), the sector size and the total sectors. Out: a
 * protective MBR (its table at 446 of sector 0), the primary header at LBA 1 and its 128-entry
 * array from LBA 2, the backup array and header at the end, CRCs computed.
 */
import { crc32 } from '../../core/crc32.js';

export interface GptPartition {
  first: number;
  last: number;
  name?: string;
  data?: Uint8Array;
}

export function buildGpt(parts: readonly GptPartition[], sectorSize = 512, totalSectors?: number): Uint8Array {
  const ss = sectorSize;
  const entries = 128, esize = 128;
  const tableSectors = Math.ceil((entries * esize) / ss);
  const firstUsable = 2 + tableSectors;
  const end = parts.reduce((m, p) => Math.max(m, p.last + 1), firstUsable);
  const total = totalSectors ?? end + tableSectors + 1;
  const last = total - 1;
  const lastUsable = last - tableSectors - 1;
  const img = new Uint8Array(total * ss);
  const dv = new DataView(img.buffer);
  // Protective MBR.
  img[446 + 4] = 0xee;
  dv.setUint32(446 + 8, 1, true);
  dv.setUint32(446 + 12, Math.min(0xffffffff, total - 1), true);
  img[510] = 0x55;
  img[511] = 0xaa;
  const table = new Uint8Array(entries * esize);
  const tv = new DataView(table.buffer);
  parts.forEach((p, i) => {
    const at = i * esize;
    table.fill(0xaf, at, at + 16);
    table[at + 16] = i + 1;
    tv.setBigUint64(at + 32, BigInt(p.first), true);
    tv.setBigUint64(at + 40, BigInt(p.last), true);
    const name = p.name ?? `part${i + 1}`;
    for (let k = 0; k < Math.min(36, name.length); k++) tv.setUint16(at + 56 + 2 * k, name.charCodeAt(k), true);
    if (p.data) img.set(p.data.subarray(0, Math.min(p.data.length, (p.last - p.first + 1) * ss, img.length - p.first * ss)), p.first * ss);
  });
  const tableCrc = crc32(table);
  const header = (lba: number, backup: number, tableLba: number): void => {
    const at = lba * ss;
    img.set(table, tableLba * ss);
    img.set([0x45, 0x46, 0x49, 0x20, 0x50, 0x41, 0x52, 0x54], at);
    dv.setUint32(at + 8, 0x00010000, true);
    dv.setUint32(at + 12, 92, true);
    dv.setBigUint64(at + 24, BigInt(lba), true);
    dv.setBigUint64(at + 32, BigInt(backup), true);
    dv.setBigUint64(at + 40, BigInt(firstUsable), true);
    dv.setBigUint64(at + 48, BigInt(lastUsable), true);
    img.fill(0x5a, at + 56, at + 72);
    dv.setBigUint64(at + 72, BigInt(tableLba), true);
    dv.setUint32(at + 80, entries, true);
    dv.setUint32(at + 84, esize, true);
    dv.setUint32(at + 88, tableCrc, true);
    dv.setUint32(at + 16, crc32(img.subarray(at, at + 92)), true);
  };
  header(1, last, 2);
  header(last, 1, last - tableSectors);
  return img;
}
