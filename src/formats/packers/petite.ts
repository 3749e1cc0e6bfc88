/**
 * Petite 2.x-packed executables → the rebuilt image, as ClamAV 1.4 unpacks them
 * (`petite_inflate2x_1to9`).
 *
 * In: the bytes of a PE layer and ClamAV's view of it (./upx.ts `scanpeInfo`). Out: the branch's
 * outcome: the rebuilt image, a limit, or why nothing came out.
 *
 * Recognised (ClamAV's `cli_scanpe`, with at least 200 bytes at the entry point): `mov eax,
 * <address>` at the entry, the address being the last section's (Petite 2.2) or the one before
 * (2.1, whose last section is left out). Level-zero files (a fixed dword at entry + 0x80) are not
 * unpacked. Every section with raw data is laid at its RVA (less the lowest RVA) in a buffer
 * ending at the highest section's raw end; a section with a raw offset but no raw size, or whose
 * data does not fit, ends the scan of the file's packers. Petite's records, from offset 0x1b8
 * (2.2) or 0x178 (2.1) of that section, are then followed: a record with bit 31 set moves packed
 * dwords (and marks where the next section ends), any other decodes one section (an NRV-like
 * bit stream: literals XORed with the count of bytes left, gamma-coded distances and lengths,
 * the last distance reused) at its RVA, inside one of the PE's sections; a zero ends them. When a
 * decoded section ends with Petite's own code, it is cut off and the original entry point is
 * decrypted from it (with the import thunks on 2.2). The sections found are sorted, sized by the
 * next one's address, packed together and rebuilt as a PE (ClamAV's `cli_rebuildpe`, with the
 * resource directory of the packed file). Any failure drops the result: PESpin is tried next.
 *
 * Why: ClamAV scans the unpacked image as a child layer. Never throws; the work is bounded by the
 * buffer (the image's size, bounded by MaxFileSize): moves and match copies adding up to more
 * than four times the buffer (which only records redoing the same work can reach) fail here,
 * where ClamAV would go on.
 */
import { parsePe } from '../pe.js';
import type { UnpackContext } from '../unpack.js';
import { rebuildPe } from './fsg.js';
import { sizeLimit, type PackerOutcome, type ScanpeInfo } from './upx.js';
import type { PeClamavSection } from '../pe.js';

const u32 = (b: Uint8Array, o: number): number => ((b[o] ?? 0) | ((b[o + 1] ?? 0) << 8) | ((b[o + 2] ?? 0) << 16) | ((b[o + 3] ?? 0) << 24)) >>> 0;
const s32 = (b: Uint8Array, o: number): number => u32(b, o) | 0;
/** ClamAV's containment check on plain numbers (no wrap: C does it in 64-bit `size_t`). */
const inside = (bb: number, bbSize: number, sb: number, size: number): boolean =>
  bbSize > 0 && size > 0 && size <= bbSize && sb >= bb && sb + size <= bb + bbSize && sb + size > bb && sb < bb + bbSize;

const INT_HALF = Math.floor(0x7fffffff / 2);

interface USect { rva: number; vsz: number; raw: number; rsz: number }

/** ClamAV's `petite_inflate2x_1to9` on the assembled buffer; undefined when it fails. */
export function petiteInflate(buf: Uint8Array, minrva: number, sections: readonly PeClamavSection[], sectcount: number, imageBase: number, pep: number, version: 1 | 2, resRva: number, resSize: number): Uint8Array | undefined {
  const bufsz = buf.length;
  const ok = (at: number, n: number): boolean => inside(0, bufsz, at, n);
  const grown = version === 1 ? 0x323 : 0x355;
  const skew = version === 1 ? 0x34 : 0x35;
  let packed = sections[sectcount - 1]!.rva + (version === 1 ? 0x178 : 0x1b8) - minrva;
  const usects: USect[] = [];
  let bottom = 0, encEp = 0, irva = 0, mangled = false, check4resources = 0;
  // Bytes moved and copied: a file does it once; records redoing it many times fail here.
  let budget = 4 * bufsz + (1 << 20);
  for (;;) {
    if (!ok(packed, 4)) return undefined;
    const srva = u32(buf, packed);
    if (!srva) break;
    let size = srva & 0x7fffffff;
    if (srva >>> 31) {
      check4resources = 0;
      if (!ok(packed + 4, 8)) return undefined;
      bottom = u32(buf, packed + 8);
      if (bottom > 0xffffffff - 4) return undefined;
      bottom += 4;
      const back = ((size - 1) * 4) >>> 0;
      const ssrc = s32(buf, packed + 4) - back - minrva;
      const ddst = s32(buf, packed + 8) - back - minrva;
      const n = (size * 4) >>> 0;
      if (!ok(ssrc, n) || !ok(ddst, n)) return undefined;
      budget -= n;
      if (budget < 0) return undefined;
      buf.copyWithin(ddst, ssrc, ssrc + n);
      packed += 12;
      continue;
    }
    if (!ok(packed + 4, 8)) return undefined;
    size = u32(buf, packed + 4);
    const thisrva = u32(buf, packed + 8);
    packed += 0x10;
    if (usects.length >= 96) return undefined;
    const diff = (bottom - thisrva) | 0;
    const us: USect = { rva: thisrva, rsz: size, vsz: diff > 0 ? diff : size, raw: 0 };
    usects.push(us);
    if (!size) continue;
    let ssrc = srva - minrva;
    let ddst = thisrva - minrva;
    let q = 0;
    for (; q < sectcount; q++) {
      const s = sections[q]!;
      if (!inside(s.rva, s.vsz, us.rva, us.vsz)) continue;
      if (!check4resources) {
        us.rva = s.rva;
        us.rsz = (thisrva - s.rva + size) >>> 0;
      }
      break;
    }
    if (q === sectcount) return undefined;
    let check1: number, check2: number, goback: number;
    if (size < 0x10000) { check1 = 0xffffc060 | 0; check2 = 0xfffffc60 | 0; goback = 5; }
    else if (size < 0x40000) { check1 = 0xffff8180 | 0; check2 = 0xfffff980 | 0; goback = 7; }
    else { check1 = 0xffff8300 | 0; check2 = 0xfffffb00 | 0; goback = 8; }
    if (!ok(ssrc, 1) || !ok(ddst, 1)) return undefined;
    size--;
    buf[ddst++] = buf[ssrc++]!;
    let oldback = 0;
    let dl = 0;
    /** One bit (ClamAV's `doubledl`), or -1 past the buffer (whose last byte is never read). */
    const bit = (): number => {
      let old = dl;
      dl = (dl << 1) & 0xff;
      if (!(old & 0x7f)) {
        if (ssrc < 0 || ssrc >= bufsz - 1) return -1;
        old = buf[ssrc++]!;
        dl = ((old << 1) | 1) & 0xff;
      }
      return (old >>> 7) & 1;
    };
    while (size > 0) {
      let b = bit();
      if (b < 0) return undefined;
      if (!b) {
        if (!ok(ssrc, 1) || !ok(ddst, 1) || --budget < 0) return undefined;
        buf[ddst++] = buf[ssrc++]! ^ (size & 0xff);
        size--;
        continue;
      }
      let addsize = 0;
      let backbytes = 1;
      for (;;) {
        if ((b = bit()) < 0) return undefined;
        if (backbytes >= INT_HALF) return undefined;
        backbytes = backbytes * 2 + b;
        if ((b = bit()) < 0) return undefined;
        if (!b) break;
      }
      backbytes -= 3;
      let backsize: number;
      if (backbytes >= 0) {
        for (let k = goback; k > 0; k--) {
          if ((b = bit()) < 0) return undefined;
          if (backbytes >= INT_HALF) return undefined;
          backbytes = backbytes * 2 + b;
        }
        backbytes = ~backbytes;
        addsize += 1 + (backbytes < check2 ? 1 : 0) + (backbytes < check1 ? 1 : 0);
        oldback = backbytes;
        backsize = 0;
      } else {
        backsize = backbytes + 1;
        backbytes = oldback;
      }
      if ((b = bit()) < 0) return undefined;
      backsize = backsize * 2 + b;
      if ((b = bit()) < 0) return undefined;
      backsize = backsize * 2 + b;
      if (!backsize) {
        backsize = 1;
        for (;;) {
          if ((b = bit()) < 0) return undefined;
          backsize = ((backsize * 2) >>> 0) + b;
          if ((b = bit()) < 0) return undefined;
          if (!b) break;
        }
        backsize = (backsize + 2) >>> 0;
      }
      backsize = (backsize + addsize) >>> 0;
      size = (size - backsize) >>> 0;
      if (!ok(ddst, backsize) || !ok(ddst + backbytes, backsize)) return undefined;
      budget -= backsize;
      if (budget < 0) return undefined;
      for (let k = 0; k < backsize; k++, ddst++) buf[ddst] = buf[ddst + backbytes]!;
    }
    // Petite's own code at the end of the section: cut off, the entry point's key kept.
    const last = usects[usects.length - 1]!;
    const magic = (at: number): boolean => ok(at, 8) && u32(buf, at) === 0x645ec033 && u32(buf, at + 4) === 0x1b8b188b;
    let reloc = -1;
    if (last.rsz > grown && magic(ddst - grown + 5 + 0x4f)) reloc = 0;
    else if (last.rsz > grown + skew && magic(ddst - grown + 5 + 0x4f - skew)) reloc = skew;
    if (reloc >= 0 && ok(ddst - grown + 0x0f - 8 - reloc, 8)) {
      const test1 = (u32(buf, ddst - grown + 0x0f - 8 - reloc) ^ 0x9d6661aa) >>> 0;
      const test2 = (u32(buf, ddst - grown + 0x0f - 4 - reloc) ^ 0xe908c483) >>> 0;
      if (test1 === test2 && ok(ddst - grown + 0x0f - reloc, 0x1c0 - 0x0f + 4)) {
        irva = u32(buf, ddst - grown + 0x121 - reloc);
        encEp = (u32(buf, ddst - grown + 0x0f - reloc) ^ test1) >>> 0;
        mangled = u32(buf, ddst - grown + 0x1c0 - reloc) !== 0x90909090;
      }
      last.rsz = (last.rsz - grown - reloc) >>> 0;
    }
    check4resources++;
  }
  const j = usects.length;
  if (j <= 0) return undefined;
  // Sorted by address (a stable bubble sort moving address and sizes), sized by the next one.
  for (let upd = true; upd;) {
    upd = false;
    for (let t = 0; t < j - 1; t++) {
      const a = usects[t]!, b = usects[t + 1]!;
      if (a.rva <= b.rva) continue;
      [a.rva, b.rva] = [b.rva, a.rva];
      [a.rsz, b.rsz] = [b.rsz, a.rsz];
      [a.vsz, b.vsz] = [b.vsz, a.vsz];
      upd = true;
    }
  }
  for (let t = 0; t < j - 1; t++) usects[t]!.vsz = (usects[t + 1]!.rva - usects[t]!.rva) >>> 0;
  if (encEp) {
    let workdone = false;
    if (version === 2) {
      let virtaddr = (pep + 5 + imageBase) >>> 0;
      let rndm = 0, dummy = true;
      let thunk = irva - minrva;
      const top = (sections[sectcount - 1]!.rva + imageBase) >>> 0;
      while (dummy && ok(thunk, 4)) {
        if (!u32(buf, thunk)) { workdone = true; break; }
        let imports = s32(buf, thunk) - minrva;
        thunk += 4;
        dummy = false;
        while (ok(imports, 4)) {
          dummy = false;
          imports += 4;
          let api = u32(buf, imports - 4);
          if (!api) { dummy = true; break; }
          if (!(api >>> 31) && mangled && --rndm < 0) {
            api = virtaddr;
            virtaddr = (virtaddr + 5) >>> 0;
            rndm = virtaddr & 7;
          } else api = 0xbff01337;
          if (top < api) encEp = (encEp - 1) >>> 0;
          if (api < virtaddr) encEp = (encEp - 1) >>> 0;
          encEp = (((encEp & 7) << 29) | (encEp >>> 3)) >>> 0;
        }
      }
    } else workdone = true;
    encEp = (pep + 5 + encEp) >>> 0;
    if (!workdone) encEp = usects[0]!.rva;
  }
  // The sections' data packed together from the start of the buffer.
  for (let t = 0; t < j; t++) {
    const u = usects[t]!, p = usects[t - 1];
    u.raw = p ? (p.raw + p.rsz) >>> 0 : 0;
    if (!u.rsz) continue;
    if (ok(u.raw, u.rsz)) {
      const from = u.rva - minrva;
      const src = new Uint8Array(u.rsz);
      const lo = Math.max(0, from), hi = Math.min(bufsz, from + u.rsz);
      if (hi > lo) src.set(buf.subarray(lo, hi), lo - from);
      buf.set(src, u.raw);
    } else {
      u.raw = p ? p.raw : 0;
      u.rsz = 0;
    }
  }
  const pe = rebuildPe(buf, usects, imageBase, encEp);
  if (!pe) return undefined;
  const w = (o: number, v: number): void => { pe[o] = v & 0xff; pe[o + 1] = (v >>> 8) & 0xff; pe[o + 2] = (v >>> 16) & 0xff; pe[o + 3] = (v >>> 24) & 0xff; };
  w(0x148 + 0x10, resRva);
  w(0x148 + 0x14, resSize);
  return pe;
}

/** The Petite branch of `cli_scanpe` (after the check for 200 bytes at the entry point). */
export function petiteStep(bytes: Uint8Array, info: ScanpeInfo, ctx: UnpackContext): PackerOutcome {
  const { sections, epbuff, imageBase } = info;
  const n = sections.length;
  if (epbuff[0] !== 0xb8) return 'next';
  const mov = u32(epbuff, 1);
  let version: 1 | 2;
  if (mov === ((sections[n - 1]!.rva + imageBase) >>> 0)) version = 2;
  else if (n >= 2 && mov === ((sections[n - 2]!.rva + imageBase) >>> 0)) version = 1;
  else return 'next';
  if (u32(epbuff, 0x80) === 0x163c988d) return 'next';
  let max = 0;
  for (const s of sections) max = Math.max(max, (s.rva + s.rsz) >>> 0);
  const dsize = (max - info.min) >>> 0;
  const limited = sizeLimit(dsize, ctx);
  if (limited) return limited;
  if (!dsize || dsize > 1024 * 1024 * 1024) return 'stop';
  const buf = new Uint8Array(dsize);
  for (const s of sections) {
    if (!s.raw) continue;
    if (!s.rsz) return 'stop';
    const at = s.rva - info.min;
    if (!inside(0, dsize, at, s.ursz) || s.raw + s.ursz > bytes.length) return 'stop';
    buf.set(bytes.subarray(s.raw, s.raw + s.ursz), at);
  }
  const dirs = parsePe(bytes).pe?.dataDirectories;
  const res = dirs?.[2];
  const data = petiteInflate(buf, info.min, sections, n - (version === 1 ? 1 : 0), imageBase, info.vep, version, res?.virtualAddress ?? 0, res?.size ?? 0);
  return data ? { data } : 'next';
}
