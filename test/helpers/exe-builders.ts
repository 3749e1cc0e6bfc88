/**
 * Seeded builders of minimal executables for tests: a spec (section layout, alignments, entry point,
 * word size, byte order) → the file's bytes plus what ClamAV 1.4 should compute for it: the entry
 * point as a raw file offset (undefined when ClamAV refuses the header) and each section's raw
 * offset and raw size. Tests place payload bytes at `EP+n`, `Sx+n`, `SL+n` from these values.
 *
 * Why generated: the repository holds no executables (ARCHITECTURE.md, convention 5), and generating
 * lets tests reach layouts real linkers rarely emit (unaligned addresses, raw size below virtual size,
 * entry points in headers or in no section, truncated files). Every byte not written by a header is
 * pseudo-random from the seed, so any 8 bytes taken from a section are unique in the file.
 *
 * The expected values come from a small model of ClamAV's rules written here from the layout the
 * builder chose; the differential test in `src/formats/exec.test.ts` checks both that model and the
 * parsers against `clamscan`.
 */

import { Prng } from './prng.js';

// ───────────────────────────── common output ─────────────────────────────

export interface BuiltSection {
  name: string;
  /** Raw file offset as ClamAV records it. */
  raw: number;
  /** Raw size as ClamAV records it. */
  rsize: number;
}

export interface BuiltExecutable {
  kind: 'pe' | 'elf' | 'macho';
  bytes: Uint8Array;
  /** ClamAV's entry point as a raw file offset, or undefined when ClamAV refuses the header. */
  entryPoint: number | undefined;
  /** ClamAV's sections (empty when it refuses the header). */
  sections: BuiltSection[];
  /** One line saying what was built, for test messages. */
  description: string;
}

const alignUp = (v: number, a: number): number => (a ? Math.ceil(v / a) * a : v);
const alignDown = (v: number, a: number): number => (a ? Math.floor(v / a) * a : v);

class Writer {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array, readonly le = true) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u8(o: number, v: number): void { this.view.setUint8(o, v); }
  u16(o: number, v: number): void { this.view.setUint16(o, v, this.le); }
  u32(o: number, v: number): void { this.view.setUint32(o, v >>> 0, this.le); }
  u64(o: number, v: bigint | number): void { this.view.setBigUint64(o, BigInt(v), this.le); }
  /** 32- or 64-bit word. */
  word(o: number, v: bigint | number, bits: 32 | 64): void {
    if (bits === 64) this.u64(o, v);
    else this.u32(o, Number(BigInt(v) & 0xffffffffn));
  }
  ascii(o: number, s: string, width: number): void {
    for (let i = 0; i < width; i++) this.bytes[o + i] = i < s.length ? s.charCodeAt(i) & 0xff : 0;
  }
  zero(from: number, to: number): void { this.bytes.fill(0, from, to); }
}

// ───────────────────────────── PE ─────────────────────────────

export interface PeSectionSpec {
  name?: string;
  /** SizeOfRawData as stored. */
  rawSize: number;
  /** VirtualSize as stored (default: rawSize). */
  virtualSize?: number;
  /** VirtualAddress (default: after the previous section, aligned to SectionAlignment). */
  virtualAddress?: number;
  /** PointerToRawData (default: after the previous section, aligned to FileAlignment). */
  pointerToRawData?: number;
  characteristics?: number;
}

export interface PeSpec {
  seed: number;
  pe32plus?: boolean;
  sections: PeSectionSpec[];
  sectionAlignment?: number;
  fileAlignment?: number;
  /** In section `section` at byte `offset` from its VirtualAddress, or an explicit RVA. */
  entry: { section: number; offset: number } | { rva: number };
  /** SizeOfHeaders (default: end of the section table rounded up to FileAlignment). */
  sizeOfHeaders?: number;
  /** e_lfanew (default 0x80). */
  lfanew?: number;
  numberOfRvaAndSizes?: number;
  /** SizeOfOptionalHeader (default: fixed part + 8 × data directories). */
  sizeOfOptionalHeader?: number;
  /** NumberOfSections as stored (default: sections.length). */
  numberOfSections?: number;
  subsystem?: number;
  /** Random bytes appended after the last section. */
  overlay?: number;
  /** Cut the file to this many bytes. */
  truncate?: number;
}

/** Builds a PE32 or PE32+ image and ClamAV's expected view of it. */
export function buildPe(spec: PeSpec): BuiltExecutable {
  const rng = new Prng(spec.seed);
  const plus = spec.pe32plus ?? false;
  const salign = spec.sectionAlignment ?? 0x1000;
  const falign = spec.fileAlignment ?? 0x200;
  const lfanew = spec.lfanew ?? 0x80;
  const ndd = spec.numberOfRvaAndSizes ?? 16;
  const fixed = plus ? 112 : 96;
  const optSize = spec.sizeOfOptionalHeader ?? fixed + 8 * Math.min(ndd, 16);
  const n = spec.sections.length;
  const tableAt = lfanew + 24 + optSize;
  const headersEnd = tableAt + 40 * n;
  const sizeOfHeaders = spec.sizeOfHeaders ?? alignUp(headersEnd, falign);

  // Lay the sections out.
  interface Placed { name: string; va: number; vs: number; ptr: number; size: number; chr: number }
  const placed: Placed[] = [];
  // Layout starts after the headers; an absurd SizeOfHeaders (a wrap-around test) does not move it.
  const layoutBase = Math.max(Math.min(sizeOfHeaders, 0x10000), headersEnd);
  let nextRaw = alignUp(layoutBase, falign);
  let nextVa = alignUp(layoutBase, salign);
  for (let i = 0; i < n; i++) {
    const s = spec.sections[i]!;
    const ptr = s.pointerToRawData ?? (s.rawSize ? nextRaw : 0);
    const va = s.virtualAddress ?? nextVa;
    const vs = s.virtualSize ?? s.rawSize;
    placed.push({ name: s.name ?? `.s${i}`, va, vs, ptr, size: s.rawSize, chr: s.characteristics ?? 0x60000020 });
    if (s.rawSize) nextRaw = Math.max(nextRaw, alignUp(ptr + s.rawSize, falign || 1));
    nextVa = Math.max(nextVa, alignUp(va + Math.max(vs, s.rawSize, 1), salign || 1));
  }
  const imageSize = nextVa;
  let fileLen = Math.max(nextRaw, layoutBase) + (spec.overlay ?? 0);
  const full = new Uint8Array(fileLen);
  full.set(rng.bytes(full.length));
  const w = new Writer(full);
  w.zero(0, Math.min(fileLen, layoutBase));

  // IMAGE_DOS_HEADER
  w.ascii(0, 'MZ', 2);
  w.u16(2, 0x90);
  w.u32(0x3c, lfanew);
  // PE signature + IMAGE_FILE_HEADER
  w.ascii(lfanew, 'PE\0\0', 4);
  w.u16(lfanew + 4, plus ? 0x8664 : 0x14c);
  w.u16(lfanew + 6, spec.numberOfSections ?? n);
  w.u32(lfanew + 8, 0x5f000000 + rng.int(0, 0xffffff));
  w.u16(lfanew + 20, optSize);
  w.u16(lfanew + 22, plus ? 0x0022 : 0x0102);
  // IMAGE_OPTIONAL_HEADER32/64
  const o = lfanew + 24;
  const epRva = 'rva' in spec.entry ? spec.entry.rva : placed[spec.entry.section]!.va + spec.entry.offset;
  w.u16(o, plus ? 0x20b : 0x10b);
  w.u8(o + 2, 14);
  w.u32(o + 4, placed[0]?.size ?? 0);
  w.u32(o + 16, epRva);
  w.u32(o + 20, placed[0]?.va ?? 0);
  if (plus) w.u64(o + 24, 0x140000000n);
  else { w.u32(o + 24, placed[1]?.va ?? 0); w.u32(o + 28, 0x400000); }
  w.u32(o + 32, salign);
  w.u32(o + 36, falign);
  w.u16(o + 40, 6);
  w.u16(o + 48, 6);
  w.u32(o + 56, imageSize);
  w.u32(o + 60, sizeOfHeaders);
  w.u16(o + 68, spec.subsystem ?? 2);
  w.u16(o + 70, 0x8140);
  if (plus) {
    w.u64(o + 72, 0x100000); w.u64(o + 80, 0x1000); w.u64(o + 88, 0x100000); w.u64(o + 96, 0x1000);
    w.u32(o + 108, ndd);
  } else {
    w.u32(o + 72, 0x100000); w.u32(o + 76, 0x1000); w.u32(o + 80, 0x100000); w.u32(o + 84, 0x1000);
    w.u32(o + 92, ndd);
  }
  // IMAGE_SECTION_HEADER[n]
  for (let i = 0; i < n; i++) {
    const p = placed[i]!;
    const at = tableAt + 40 * i;
    if (at + 40 > fileLen) break;
    w.ascii(at, p.name, 8);
    w.u32(at + 8, p.vs);
    w.u32(at + 12, p.va);
    w.u32(at + 16, p.size);
    w.u32(at + 20, p.ptr);
    w.u32(at + 36, p.chr);
  }

  const bytes = spec.truncate !== undefined && spec.truncate < fileLen ? full.slice(0, spec.truncate) : full;
  fileLen = bytes.length;

  // ClamAV's model: aligned sections clipped to the file, EP through headers or the last covering section.
  const refused = (why: string): BuiltExecutable => ({ kind: 'pe', bytes, entryPoint: undefined, sections: [], description: `PE${plus ? '32+' : '32'} ${why}` });
  if ((spec.numberOfSections ?? n) !== n || n === 0) return refused('with a section count that does not match its table');
  if (optSize < fixed + 8 * Math.min(ndd, 16) || tableAt + 40 * n > fileLen) return refused('with a header ClamAV refuses');
  let fa = falign;
  for (const p of placed) if (fa !== 0x200 && fa && p.size && p.ptr % fa && !(p.ptr % 0x200)) fa = 0x200;
  const model = placed.map((p) => {
    const raw = alignDown(p.ptr, fa);
    let rsz = alignUp(p.size, fa) % 0x100000000;
    let ursz = p.size;
    if (rsz && (raw >= fileLen || p.ptr >= fileLen)) rsz = ursz = 0;
    else if (rsz) {
      if (raw + rsz > fileLen) rsz = fileLen - raw;
      if (p.ptr + ursz > fileLen) ursz = fileLen - p.ptr;
    }
    // ClamAV refuses sign-bit values, judged after clipping (so a huge SizeOfRawData may survive).
    const signBit = (v: number) => v >= 0x80000000;
    const bad = signBit(p.va) || signBit(p.vs) || (rsz > 0 && signBit(p.ptr)) || signBit(ursz);
    return { name: p.name, rva: alignDown(p.va, salign), raw, rsz, bad };
  });
  if (model.some((m) => m.bad)) return refused('with a section value that has the sign bit set');
  const hdr = alignUp(sizeOfHeaders, salign) % 0x100000000; // 32-bit, as ClamAV stores it
  let ep: number | undefined;
  if (epRva < hdr) ep = epRva < fileLen ? epRva : undefined;
  else {
    for (let i = model.length - 1; i >= 0 && ep === undefined; i--) {
      const m = model[i]!;
      if (m.rsz && m.rva <= epRva && epRva < m.rva + m.rsz) ep = m.raw + (epRva - m.rva);
    }
  }
  const desc = `PE${plus ? '32+' : '32'} salign=0x${salign.toString(16)} falign=0x${falign.toString(16)} sections=${n} ep_rva=0x${epRva.toString(16)} len=${fileLen}`;
  if (ep === undefined) return refused(`${desc} (entry point maps to no file offset)`);
  return { kind: 'pe', bytes, entryPoint: ep, sections: model.map((m) => ({ name: m.name, raw: m.raw, rsize: m.rsz })), description: desc };
}

/** A random PE spec exercising ClamAV's alignment and mapping rules. */
export function randomPeSpec(seed: number): PeSpec {
  const rng = new Prng(seed).fork('pe-spec');
  const salign = rng.pick([0x1000, 0x1000, 0x2000, 0x200]);
  const falign = rng.pick([0x200, 0x200, 0x400, 0x1000]);
  const falignEff = Math.min(falign, salign);
  const count = rng.int(1, 6);
  const names = ['.text', '.rdata', '.data', '.rsrc', '.reloc', 'UPX0', '.pdata', '.tls'];
  const sections: PeSectionSpec[] = [];
  for (let i = 0; i < count; i++) {
    const rawSize = rng.chance(0.1) && i > 0 ? 0 : rng.chance(0.5) ? alignUp(rng.int(0x20, 0x900), falignEff) : rng.int(0x20, 0x900);
    const s: PeSectionSpec = { name: names[i % names.length]!, rawSize };
    if (rng.chance(0.3)) s.virtualSize = rawSize + rng.int(0x100, 0x3000); // raw size below virtual size
    else if (rng.chance(0.15)) s.virtualSize = 0; // ClamAV takes the virtual size from the raw size
    sections.push(s);
  }
  // Entry point: usually in a section with raw data, sometimes past its raw data, in the headers, or nowhere.
  const withRaw = sections.map((s, i) => (s.rawSize ? i : -1)).filter((i) => i >= 0);
  const roll = rng.float();
  let entry: PeSpec['entry'];
  if (roll < 0.1) entry = { rva: rng.int(0x40, 0x2ff) };
  else if (roll < 0.15) entry = { rva: 0x7000000 + rng.int(0, 0xfff) };
  else {
    const sec = rng.pick(withRaw);
    const s = sections[sec]!;
    const past = s.virtualSize !== undefined && s.virtualSize > s.rawSize && rng.chance(0.3);
    entry = { section: sec, offset: past ? alignUp(s.rawSize, falignEff) + rng.int(0, 0xff) : rng.int(0, s.rawSize - 1) };
  }
  const spec: PeSpec = { seed, pe32plus: rng.chance(0.4), sections, sectionAlignment: salign, fileAlignment: falignEff, entry };
  if (rng.chance(0.2)) spec.sizeOfHeaders = 0x300; // not a multiple of SectionAlignment: ClamAV rounds it up
  if (rng.chance(0.15)) spec.overlay = rng.int(1, 0x400);
  if (rng.chance(0.1)) {
    // Truncate inside the last section that has raw data: ClamAV clips its raw size.
    spec.truncate = -1;
  }
  return spec;
}

/** Builds a random PE; a `truncate` of -1 in the spec cuts the file in the middle of its last section's data. */
export function buildRandomPe(seed: number): BuiltExecutable {
  const spec = randomPeSpec(seed);
  if (spec.truncate === -1) {
    const whole = buildPe({ ...spec, truncate: undefined });
    const last = whole.sections.filter((s) => s.rsize > 0).pop();
    spec.truncate = last ? last.raw + Math.max(16, Math.floor(last.rsize / 2)) : undefined;
  }
  return buildPe(spec);
}

// ───────────────────────────── ELF ─────────────────────────────

export interface ElfSectionSpec {
  name: string;
  size: number;
  /** sh_type (default SHT_PROGBITS). */
  type?: number;
}

export interface ElfSegmentSpec {
  type: number;
  offset: number;
  vaddr: bigint;
  filesz: number;
  memsz: number;
}

export interface ElfSpec {
  seed: number;
  bits: 32 | 64;
  littleEndian: boolean;
  sections: ElfSectionSpec[];
  /** Entry in a section (index into `sections`) at a byte offset, or an explicit e_entry. */
  entry: { section: number; offset: number } | { vaddr: bigint };
  /**
   * Segment layout: 'one' maps the whole file at the base address; 'two' maps the second half of the
   * sections at a different distance (file offset ≠ address − base); 'note-first' puts a PT_NOTE
   * covering the entry before the PT_LOAD (ClamAV takes the first covering header of any type).
   */
  segments?: 'one' | 'two' | 'note-first';
  /** Omit section headers: e_shnum 0, and e_shentsize 0 unless `keepShentsize`. */
  noSectionHeaders?: boolean;
  keepShentsize?: boolean;
  /** Override e_phnum with a value above 128 (ClamAV's limit). */
  phnum?: number;
  /** Extra memsz past the file image in the last segment (a .bss the entry may point into). */
  bss?: number;
}

/** Builds an ELF32/ELF64 executable in either byte order and ClamAV's expected view of it. */
export function buildElf(spec: ElfSpec): BuiltExecutable {
  if (spec.phnum !== undefined && spec.phnum <= 128) throw new Error('buildElf: phnum overrides must exceed 128');
  const rng = new Prng(spec.seed);
  const is64 = spec.bits === 64;
  const ehsize = is64 ? 64 : 52;
  const phent = is64 ? 56 : 32;
  const shent = is64 ? 64 : 40;
  const base = is64 ? 0x400000n : 0x8048000n;
  const layout = spec.segments ?? 'one';
  const nph = layout === 'one' ? 1 : 2;

  // Sections: data after the program headers, each 16-aligned; then .shstrtab; then the section header table.
  let at = ehsize + nph * phent;
  const placed = spec.sections.map((s) => {
    at = alignUp(at, 16);
    const p = { ...s, offset: at };
    at += s.size;
    return p;
  });
  const names = ['', ...spec.sections.map((s) => s.name), '.shstrtab'];
  const nameOffsets: number[] = [];
  let strtab = '';
  for (const nm of names) {
    nameOffsets.push(strtab.length);
    strtab += nm + '\0';
  }
  const strtabAt = at;
  at += strtab.length;
  const shoff = alignUp(at, 8);
  const shnum = spec.noSectionHeaders ? 0 : names.length;
  const fileLen = shoff + shnum * shent;

  // Second segment: sections from the middle on, mapped 0x10000 further than their file offset.
  const split = placed.length > 1 ? Math.ceil(placed.length / 2) : placed.length;
  const shift = 0x10000n;
  const secondStart = layout === 'two' && split < placed.length ? placed[split]!.offset : fileLen;
  const addrOf = (offset: number): bigint => base + BigInt(offset) + (layout === 'two' && offset >= secondStart ? shift : 0n);

  const bytes = new Uint8Array(fileLen);
  bytes.set(rng.bytes(bytes.length));
  const w = new Writer(bytes, spec.littleEndian);
  w.zero(0, ehsize + nph * phent);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, spec.littleEndian ? 1 : 2, 1, 0], 0);
  const entry = 'vaddr' in spec.entry ? spec.entry.vaddr : addrOf(placed[spec.entry.section]!.offset + spec.entry.offset);
  const ws = is64 ? 8 : 4;
  w.u16(16, 2); // ET_EXEC
  w.u16(18, is64 ? 62 : 3);
  w.u32(20, 1);
  w.word(24, entry, spec.bits);
  w.word(24 + ws, ehsize, spec.bits);
  w.word(24 + 2 * ws, spec.noSectionHeaders ? 0 : shoff, spec.bits);
  const after = 24 + 3 * ws;
  w.u32(after, 0);
  w.u16(after + 4, ehsize);
  w.u16(after + 6, phent);
  w.u16(after + 8, spec.phnum ?? nph);
  w.u16(after + 10, spec.noSectionHeaders && !spec.keepShentsize ? 0 : shent);
  w.u16(after + 12, shnum);
  w.u16(after + 14, spec.noSectionHeaders ? 0 : names.length - 1);

  // Program headers.
  const bss = BigInt(spec.bss ?? 0);
  const segs: ElfSegmentSpec[] = [];
  if (layout === 'one') segs.push({ type: 1, offset: 0, vaddr: base, filesz: fileLen, memsz: fileLen + Number(bss) });
  else if (layout === 'two') {
    segs.push({ type: 1, offset: 0, vaddr: base, filesz: secondStart, memsz: secondStart });
    segs.push({ type: 1, offset: secondStart, vaddr: base + BigInt(secondStart) + shift, filesz: fileLen - secondStart, memsz: fileLen - secondStart + Number(bss) });
  } else {
    // A PT_NOTE that claims the entry's address at a different file offset, before the real PT_LOAD.
    segs.push({ type: 4, offset: 0x20, vaddr: entry > 0x10n ? entry - 0x10n : 0n, filesz: 0x40, memsz: 0x40 });
    segs.push({ type: 1, offset: 0, vaddr: base, filesz: fileLen, memsz: fileLen + Number(bss) });
  }
  segs.forEach((s, i) => {
    const p = ehsize + i * phent;
    if (is64) {
      w.u32(p, s.type); w.u32(p + 4, 5); w.u64(p + 8, s.offset); w.u64(p + 16, s.vaddr); w.u64(p + 24, s.vaddr);
      w.u64(p + 32, s.filesz); w.u64(p + 40, s.memsz); w.u64(p + 48, 0x1000);
    } else {
      w.u32(p, s.type); w.u32(p + 4, s.offset); w.u32(p + 8, Number(s.vaddr)); w.u32(p + 12, Number(s.vaddr));
      w.u32(p + 16, s.filesz); w.u32(p + 20, s.memsz); w.u32(p + 24, 5); w.u32(p + 28, 0x1000);
    }
  });

  // .shstrtab and section headers (index 0 is the null section).
  for (let i = 0; i < strtab.length; i++) bytes[strtabAt + i] = strtab.charCodeAt(i);
  const shdrs = [
    { type: 0, addr: 0n, offset: 0, size: 0 },
    ...placed.map((p) => ({ type: p.type ?? 1, addr: addrOf(p.offset), offset: p.offset, size: p.size })),
    { type: 3, addr: 0n, offset: strtabAt, size: strtab.length },
  ];
  if (!spec.noSectionHeaders) {
    w.zero(shoff, fileLen);
    shdrs.forEach((s, i) => {
      const p = shoff + i * shent;
      w.u32(p, nameOffsets[i]!);
      w.u32(p + 4, s.type);
      if (is64) { w.u64(p + 16, s.addr); w.u64(p + 24, s.offset); w.u64(p + 32, s.size); w.u64(p + 48, 1); }
      else { w.u32(p + 12, Number(s.addr)); w.u32(p + 16, s.offset); w.u32(p + 20, s.size); w.u32(p + 32, 1); }
    });
  }

  // ClamAV's model: first program header covering the entry; sections verbatim; its limits.
  const desc = `ELF${spec.bits} ${spec.littleEndian ? 'LE' : 'BE'} segments=${layout} sections=${shnum} entry=0x${entry.toString(16)}`;
  const refused = (why: string): BuiltExecutable => ({ kind: 'elf', bytes, entryPoint: undefined, sections: [], description: `${desc} (${why})` });
  const phnum = spec.phnum ?? nph;
  if (phnum > 128) return refused('more than 128 program headers');
  let ep = 0;
  if (entry !== 0n && phnum) {
    const seg = segs.find((s) => s.vaddr <= entry && entry < s.vaddr + BigInt(s.memsz));
    if (!seg) return refused('entry point in no segment');
    ep = Number(entry - seg.vaddr) + seg.offset;
  }
  if (spec.noSectionHeaders && !spec.keepShentsize) return refused('e_shentsize 0');
  const sections = spec.noSectionHeaders ? [] : shdrs.map((s, i) => ({ name: names[i]!, raw: s.offset, rsize: s.size }));
  return { kind: 'elf', bytes, entryPoint: ep, sections, description: desc };
}

/** A random ELF spec: word size, byte order, section count and segment layout vary with the seed. */
export function randomElfSpec(seed: number): ElfSpec {
  const rng = new Prng(seed).fork('elf-spec');
  const count = rng.int(1, 5);
  const names = ['.text', '.rodata', '.data', '.init', '.fini', '.plt'];
  const sections = Array.from({ length: count }, (_, i) => ({ name: names[i]!, size: rng.int(0x20, 0x300) }));
  const sec = rng.int(0, count - 1);
  const spec: ElfSpec = {
    seed,
    bits: rng.chance(0.5) ? 64 : 32,
    littleEndian: rng.chance(0.6),
    sections,
    entry: { section: sec, offset: rng.int(0, sections[sec]!.size - 1) },
    segments: rng.pick(['one', 'one', 'two', 'note-first'] as const),
  };
  const roll = rng.float();
  if (roll < 0.08) spec.entry = { vaddr: 0n }; // no entry: ClamAV's EP is 0
  else if (roll < 0.14) spec.entry = { vaddr: 0x7f000000n }; // in no segment: refused
  else if (roll < 0.2) { spec.noSectionHeaders = true; spec.keepShentsize = rng.chance(0.5); }
  return spec;
}

// ───────────────────────────── Mach-O ─────────────────────────────

export interface MachOSectionSpec {
  name: string;
  size: number;
  /** Alignment exponent (default 4). */
  align?: number;
}

export interface MachOSegmentSpec {
  name: string;
  sections: MachOSectionSpec[];
}

export interface MachOSpec {
  seed: number;
  bits?: 32 | 64;
  littleEndian?: boolean;
  /** CPU type (default x86-64 for 64-bit, i386 for 32-bit). */
  cputype?: number;
  segments: MachOSegmentSpec[];
  /** Entry in section `section` (flat index over all segments) at a byte offset. */
  entry: { section: number; offset: number };
  /** LC_MAIN (default for x86-64/ARM64) or LC_UNIXTHREAD. */
  entryCommand?: 'main' | 'unixthread';
}

const CPU_X86 = 7;
const CPU_X86_64 = 0x01000007;
const CPU_ARM64 = 0x0100000c;
const CPU_PPC = 18;
const CPU_PPC64 = 0x01000012;

/** Thread state flavor, word count and where the program counter sits, per CPU. */
function threadLayout(cputype: number): { flavor: number; count: number; pcAt: number; pc64: boolean } {
  switch (cputype) {
    case CPU_X86: return { flavor: 1, count: 16, pcAt: 40, pc64: false };
    case CPU_X86_64: return { flavor: 4, count: 42, pcAt: 128, pc64: true };
    case CPU_ARM64: return { flavor: 6, count: 68, pcAt: 256, pc64: true };
    case CPU_PPC: return { flavor: 1, count: 40, pcAt: 0, pc64: false };
    case CPU_PPC64: return { flavor: 5, count: 76, pcAt: 0, pc64: true };
    default: throw new Error(`no thread layout for CPU type ${cputype}`);
  }
}

/** Builds a thin Mach-O (32/64-bit, either byte order) and ClamAV's expected view of it. */
export function buildMachO(spec: MachOSpec): BuiltExecutable {
  const rng = new Prng(spec.seed);
  const bits = spec.bits ?? 64;
  const is64 = bits === 64;
  const le = spec.littleEndian ?? true;
  const cputype = spec.cputype ?? (is64 ? CPU_X86_64 : CPU_X86);
  const entryCmd = spec.entryCommand ?? (cputype === CPU_X86_64 || cputype === CPU_ARM64 ? 'main' : 'unixthread');
  const hsize = is64 ? 32 : 28;
  const segSize = is64 ? 72 : 56;
  const sectSize = is64 ? 80 : 68;
  const thread = threadLayout(cputype);
  const entrySize = entryCmd === 'main' ? 24 : 16 + thread.count * 4;
  const pagezero = is64 ? segSize : 0;
  const cmdsBytes = pagezero + spec.segments.reduce((a, s) => a + segSize + sectSize * s.sections.length, 0) + entrySize;
  const ncmds = (is64 ? 1 : 0) + spec.segments.length + 1;

  // Section data after the load commands, each aligned to its 2^align.
  let at = hsize + cmdsBytes;
  const flat: { seg: number; name: string; size: number; align: number; offset: number }[] = [];
  spec.segments.forEach((seg, si) => {
    for (const s of seg.sections) {
      const align = s.align ?? 4;
      at = alignUp(at, 2 ** Math.min(align, 12));
      flat.push({ seg: si, name: s.name, size: s.size, align, offset: at });
      at += s.size;
    }
  });
  // Room after the last command for ClamAV's 312-byte PPC64 thread-state read, and some trailing data.
  const fileLen = alignUp(Math.max(at, hsize + cmdsBytes + 400) + 64, 16);
  const vmbase = is64 ? 0x100000000n : 0x1000n;
  const addrOf = (offset: number): bigint => vmbase + BigInt(offset);

  const bytes = new Uint8Array(fileLen);
  bytes.set(rng.bytes(bytes.length));
  const w = new Writer(bytes, le);
  w.zero(0, hsize + cmdsBytes);
  w.u32(0, is64 ? 0xfeedfacf : 0xfeedface);
  w.u32(4, cputype);
  w.u32(8, cputype === CPU_X86 || cputype === CPU_X86_64 ? 3 : 0);
  w.u32(12, 2); // MH_EXECUTE
  w.u32(16, ncmds);
  w.u32(20, cmdsBytes);
  w.u32(24, 0x00200085);

  let c = hsize;
  const segment = (name: string, vmaddr: bigint, vmsize: bigint, fileoff: number, filesize: number, sects: typeof flat) => {
    w.u32(c, is64 ? 0x19 : 0x1);
    w.u32(c + 4, segSize + sectSize * sects.length);
    w.ascii(c + 8, name, 16);
    const ws = is64 ? 8 : 4;
    w.word(c + 24, vmaddr, bits);
    w.word(c + 24 + ws, vmsize, bits);
    w.word(c + 24 + 2 * ws, fileoff, bits);
    w.word(c + 24 + 3 * ws, filesize, bits);
    const p = c + 24 + 4 * ws;
    w.u32(p, 7); w.u32(p + 4, 5); w.u32(p + 8, sects.length); w.u32(p + 12, 0);
    c += segSize;
    for (const s of sects) {
      w.ascii(c, s.name, 16);
      w.ascii(c + 16, name, 16);
      w.word(c + 32, addrOf(s.offset), bits);
      if (is64) w.u64(c + 40, s.size); else w.u32(c + 36, s.size);
      const q = c + 32 + 2 * ws;
      w.u32(q, s.offset);
      w.u32(q + 4, s.align);
      c += sectSize;
    }
  };
  if (is64) segment('__PAGEZERO', 0n, vmbase, 0, 0, []);
  spec.segments.forEach((seg, si) => {
    const sects = flat.filter((f) => f.seg === si);
    const from = si === 0 ? 0 : (sects[0]?.offset ?? 0);
    const to = sects.length ? sects[sects.length - 1]!.offset + sects[sects.length - 1]!.size : from;
    segment(seg.name, addrOf(from), BigInt(alignUp(to - from, 0x1000)), from, to - from, sects);
  });

  const target = flat[spec.entry.section]!;
  const pc = addrOf(target.offset + spec.entry.offset);
  if (entryCmd === 'main') {
    w.u32(c, 0x80000028); w.u32(c + 4, 24); w.u64(c + 8, target.offset + spec.entry.offset); w.u64(c + 16, 0);
  } else {
    w.u32(c, 0x5); w.u32(c + 4, entrySize); w.u32(c + 8, thread.flavor); w.u32(c + 12, thread.count);
    if (thread.pc64) w.u64(c + 16 + thread.pcAt, pc); else w.u32(c + 16 + thread.pcAt, Number(pc & 0xffffffffn));
  }

  // ClamAV's model: entry only from PPC/PPC64 thread states, mapped through the first covering
  // section; (1.4.6) an alignment exponent of 32 or more, or a size that overflows 32 bits once
  // aligned, is refused.
  let ep = 0;
  if (flat.some((f) => f.align >= 32 || alignUp(f.size, 2 ** f.align) > 0xffffffff)) ep = -1;
  else if (entryCmd === 'unixthread' && (cputype === CPU_PPC || cputype === CPU_PPC64)) {
    const pc32 = Number(pc & 0xffffffffn);
    const s = flat.find((f) => {
      const a = Number(addrOf(f.offset) & 0xffffffffn);
      return a <= pc32 && pc32 < a + f.size;
    });
    ep = s ? s.offset + (pc32 - Number(addrOf(s.offset) & 0xffffffffn)) : -1;
  }
  const desc = `Mach-O${bits} ${le ? 'LE' : 'BE'} cpu=0x${cputype.toString(16)} ${entryCmd} sections=${flat.length}`;
  return {
    kind: 'macho',
    bytes,
    entryPoint: ep < 0 ? undefined : ep,
    sections: ep < 0 ? [] : flat.map((f) => ({ name: f.name, raw: f.offset, rsize: alignUp(f.size, 2 ** f.align) })),
    description: desc,
  };
}

/** A random Mach-O spec: mostly 64-bit x86-64/ARM64 (entry 0 for ClamAV), some PPC/PPC64 with a mapped entry. */
export function randomMachOSpec(seed: number): MachOSpec {
  const rng = new Prng(seed).fork('macho-spec');
  const kind = rng.pick(['x86_64', 'x86_64', 'arm64', 'ppc64', 'ppc', 'i386'] as const);
  const bits = kind === 'ppc' || kind === 'i386' ? 32 : 64;
  const cputype = { x86_64: CPU_X86_64, arm64: CPU_ARM64, ppc64: CPU_PPC64, ppc: CPU_PPC, i386: CPU_X86 }[kind];
  const le = kind === 'ppc' || kind === 'ppc64' ? false : true;
  const text = [{ name: '__text', size: rng.int(0x40, 0x400), align: rng.pick([2, 4]) }, { name: '__cstring', size: rng.int(0x10, 0x100), align: 0 }];
  const data = [{ name: '__data', size: rng.int(0x10, 0x200), align: 3 }];
  if (rng.chance(0.5)) data.push({ name: '__const', size: rng.int(0x10, 0x80), align: rng.pick([0, 2, 5]) });
  const segments = [{ name: '__TEXT', sections: text }, { name: '__DATA', sections: data }];
  const sec = rng.chance(0.7) ? 0 : rng.int(0, text.length + data.length - 1);
  const size = [...text, ...data][sec]!.size;
  return {
    seed,
    bits,
    littleEndian: le,
    cputype,
    segments,
    entry: { section: sec, offset: rng.int(0, size - 1) },
    entryCommand: kind === 'x86_64' || kind === 'arm64' ? rng.pick(['main', 'unixthread'] as const) : 'unixthread',
  };
}
