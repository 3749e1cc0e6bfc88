/**
 * Mach-O headers: untrusted bytes → the mach header, load commands, segments with their sections,
 * and the entry command (LC_MAIN or LC_UNIXTHREAD/LC_THREAD), for 32- and 64-bit files in either
 * byte order; universal ("fat") files are recognised and their architecture table is read.
 *
 * Two readings, on purpose:
 * - `parseMachO` is a tolerant structural parser that walks load commands by their `cmdsize`, as
 *   the kernel and dyld do, and keeps 64-bit values as bigint.
 * - `machoClamavView` re-walks the commands the way ClamAV 1.4 does, because its walk differs from
 *   the format: it steps over a segment by the size of the structures it read (not `cmdsize`), steps
 *   over a thread command by the size of its own thread-state structure (x86, PPC, PPC64 only), knows
 *   no LC_MAIN, and takes an entry point only from PPC/PPC64 thread states. So for x86, x86-64 and
 *   ARM files ClamAV's entry point is 0, and `EP+n` is simply offset n. Section raw sizes are the
 *   section sizes rounded up to `1 << align`; addresses are truncated to 32 bits.
 *
 * The view follows the installed ClamAV 1.4.6, which refuses a section whose alignment exponent is
 * 32 or more, whose 64-bit size exceeds 32 bits, or whose size overflows 32 bits once rounded up to
 * its alignment. (1.4.5 refused only 32-bit files with an exponent ≥ 32 and wrapped the rest.)
 *
 * ClamAV does not parse the header of a universal file for offsets (its magic is not a thin
 * Mach-O magic), so relative offsets never match at that layer; each slice is scanned on its own.
 */

import { ByteReader, EndianReader as BaseEndianReader } from '../core/bytes.js';
import type { HeaderIssue } from './exec.js';

/** `mach_header` / `mach_header_64`. */
export interface MachOHeader {
  /** The magic as a big-endian number of the first four bytes: feedface/feedfacf (BE) or cefaedfe/cffaedfe (LE). */
  magic: number;
  bits: 32 | 64;
  littleEndian: boolean;
  cputype: number;
  cpusubtype: number;
  filetype: number;
  ncmds: number;
  sizeofcmds: number;
  flags: number;
  /** `mach_header_64.reserved`. */
  reserved?: number;
}

/** `load_command`: every command starts with these two words. */
export interface MachOLoadCommand {
  /** File offset of the command. */
  at: number;
  cmd: number;
  cmdsize: number;
}

/** `section` / `section_64`. */
export interface MachOSection {
  at: number;
  sectname: string;
  segname: string;
  addr: bigint;
  size: bigint;
  offset: number;
  align: number;
  reloff: number;
  nreloc: number;
  flags: number;
  reserved1: number;
  reserved2: number;
  /** `section_64` only. */
  reserved3?: number;
}

/** `segment_command` / `segment_command_64` with the sections that follow it. */
export interface MachOSegment {
  at: number;
  cmd: number;
  segname: string;
  vmaddr: bigint;
  vmsize: bigint;
  fileoff: bigint;
  filesize: bigint;
  maxprot: number;
  initprot: number;
  nsects: number;
  flags: number;
  sections: MachOSection[];
}

/**
 * The entry command. `main`: LC_MAIN's `entryoff` is a file offset (of the __TEXT segment's file image).
 * `thread`: LC_UNIXTHREAD/LC_THREAD; `pc` is the program counter of the first thread state when the
 * CPU and flavor are known (x86, x86-64, ARM, ARM64, PPC, PPC64).
 */
export type MachOEntry =
  | { kind: 'main'; at: number; entryoff: bigint; stacksize: bigint }
  | { kind: 'thread'; at: number; cmd: number; flavor: number; pc?: bigint };

export interface MachOFile {
  fileSize: number;
  header: MachOHeader;
  loadCommands: MachOLoadCommand[];
  segments: MachOSegment[];
  entry?: MachOEntry;
  issues: HeaderIssue[];
}

export interface MachOParse {
  macho?: MachOFile;
  issues: HeaderIssue[];
}

/** `fat_arch` / `fat_arch_64`: one slice of a universal file. */
export interface MachOFatArch {
  cputype: number;
  cpusubtype: number;
  offset: bigint;
  size: bigint;
  align: number;
}

/** `fat_header` and its architecture table (always big-endian). */
export interface MachOFat {
  /** 0xcafebabe, or 0xcafebabf for 64-bit offsets. */
  magic: number;
  nfatArch: number;
  arches: MachOFatArch[];
  issues: HeaderIssue[];
}

export const CPU_TYPE_X86 = 7;
export const CPU_TYPE_X86_64 = 0x01000007;
export const CPU_TYPE_ARM = 12;
export const CPU_TYPE_ARM64 = 0x0100000c;
export const CPU_TYPE_POWERPC = 18;
export const CPU_TYPE_POWERPC64 = 0x01000012;

const LC_SEGMENT = 0x1;
const LC_THREAD = 0x4;
const LC_UNIXTHREAD = 0x5;
const LC_SEGMENT_64 = 0x19;
const LC_MAIN = 0x80000028;
/** Hard cap on load commands walked by the structural parser (each is ≥ 8 bytes anyway). */
const MAX_LOAD_COMMANDS = 65536;

function issue(code: string, message: string, offset: number): HeaderIssue {
  return { code, message, offset };
}

/** The shared endian reader plus Mach-O's fixed-width names. */
class EndianReader extends BaseEndianReader {
  /** A fixed 16-byte name field up to its first NUL. */
  name16(o: number): string {
    const s = this.r.slice(o, 16);
    if (!s) return '';
    const nul = s.indexOf(0);
    return this.r.latin1(o, nul < 0 ? 16 : nul)!;
  }
}

/** Magic → word size and byte order, from the first four bytes read big-endian. */
function thinMagic(m: number | undefined): { bits: 32 | 64; le: boolean } | undefined {
  switch (m) {
    case 0xfeedface: return { bits: 32, le: false };
    case 0xcefaedfe: return { bits: 32, le: true };
    case 0xfeedfacf: return { bits: 64, le: false };
    case 0xcffaedfe: return { bits: 64, le: true };
    default: return undefined;
  }
}

/**
 * What the first bytes say: a thin Mach-O, a universal file (ClamAV 1.4's rule: `cafebabe` followed
 * by an architecture count below 0x20, which tells it from a Java class file), or neither.
 */
export function machoKind(bytes: Uint8Array): 'thin' | 'fat' | undefined {
  const r = new ByteReader(bytes);
  const m = r.u32be(0);
  if (thinMagic(m)) return 'thin';
  if (m === 0xcafebabe) {
    const n = r.u32be(4);
    if (n !== undefined && n < 0x20) return 'fat';
  }
  return undefined;
}

/**
 * Parses a thin Mach-O.
 *
 *   MachO := mach_header[_64] load_command{ncmds}
 *   load_command := cmd u32, cmdsize u32, body[cmdsize-8]
 */
export function parseMachO(bytes: Uint8Array): MachOParse {
  const r = new ByteReader(bytes);
  const kind = thinMagic(r.u32be(0));
  if (!kind) return { issues: [issue('macho.bad-magic', 'no Mach-O magic', 0)] };
  const e = new EndianReader(r, kind.le);
  const hsize = kind.bits === 64 ? 32 : 28;
  if (!r.has(0, hsize)) return { issues: [issue('macho.truncated-header', 'file too short for a mach header', 0)] };
  const header: MachOHeader = {
    magic: r.u32be(0)!,
    bits: kind.bits,
    littleEndian: kind.le,
    cputype: e.u32(4)!,
    cpusubtype: e.u32(8)!,
    filetype: e.u32(12)!,
    ncmds: e.u32(16)!,
    sizeofcmds: e.u32(20)!,
    flags: e.u32(24)!,
    ...(kind.bits === 64 ? { reserved: e.u32(28)! } : {}),
  };
  const issues: HeaderIssue[] = [];
  const loadCommands: MachOLoadCommand[] = [];
  const segments: MachOSegment[] = [];
  let entry: MachOEntry | undefined;

  let at = hsize;
  const n = Math.min(header.ncmds, MAX_LOAD_COMMANDS);
  for (let i = 0; i < n; i++) {
    const cmd = e.u32(at);
    const cmdsize = e.u32(at + 4);
    if (cmd === undefined || cmdsize === undefined) {
      issues.push(issue('macho.truncated-load-commands', `only ${i} of ${header.ncmds} load commands fit in the file`, at));
      break;
    }
    if (cmdsize < 8) {
      issues.push(issue('macho.bad-cmdsize', `load command ${i} has cmdsize ${cmdsize} < 8`, at + 4));
      break;
    }
    loadCommands.push({ at, cmd, cmdsize });
    if (cmd === LC_SEGMENT || cmd === LC_SEGMENT_64) {
      const seg = readSegment(e, at, cmd === LC_SEGMENT_64, cmdsize, issues);
      if (seg) segments.push(seg);
    } else if (cmd === LC_MAIN) {
      // entry_point_command := cmd, cmdsize, entryoff u64, stacksize u64
      const entryoff = e.u64(at + 8);
      const stacksize = e.u64(at + 16);
      if (entryoff !== undefined && stacksize !== undefined && cmdsize >= 24) entry ??= { kind: 'main', at, entryoff, stacksize };
      else issues.push(issue('macho.bad-main', 'truncated LC_MAIN', at));
    } else if (cmd === LC_UNIXTHREAD || cmd === LC_THREAD) {
      // thread_command := cmd, cmdsize, { flavor u32, count u32, state[count] }*
      const flavor = e.u32(at + 8);
      if (flavor !== undefined && (cmd === LC_UNIXTHREAD || !entry)) {
        const pc = threadPc(e, header.cputype, flavor, at + 16, Math.min(((e.u32(at + 12) ?? 0) * 4), cmdsize - 16));
        entry = { kind: 'thread', at, cmd, flavor, ...(pc !== undefined ? { pc } : {}) };
      }
    }
    at += cmdsize;
  }
  if (header.ncmds > MAX_LOAD_COMMANDS) issues.push(issue('macho.many-load-commands', `ncmds ${header.ncmds} exceeds ${MAX_LOAD_COMMANDS}`, 16));

  const macho: MachOFile = { fileSize: bytes.length, header, loadCommands, segments, ...(entry ? { entry } : {}), issues };
  return { macho, issues };
}

/**
 * segment_command    := cmd, cmdsize, segname[16], vmaddr, vmsize, fileoff, filesize (u32), maxprot, initprot, nsects, flags
 * segment_command_64 := cmd, cmdsize, segname[16], vmaddr, vmsize, fileoff, filesize (u64), maxprot, initprot, nsects, flags
 * followed by nsects × section (68 bytes) / section_64 (80 bytes), within cmdsize.
 */
function readSegment(e: EndianReader, at: number, is64: boolean, cmdsize: number, issues: HeaderIssue[]): MachOSegment | undefined {
  const fixed = is64 ? 72 : 56;
  if (!e.r.has(at, fixed) || cmdsize < fixed) {
    issues.push(issue('macho.truncated-segment', 'segment command is truncated', at));
    return undefined;
  }
  const w = (o: number): bigint => (is64 ? e.u64(at + o)! : BigInt(e.u32(at + o)!));
  const ws = is64 ? 8 : 4;
  const p = 24 + 4 * ws; // first byte after filesize
  const seg: MachOSegment = {
    at,
    cmd: e.u32(at)!,
    segname: e.name16(at + 8),
    vmaddr: w(24),
    vmsize: w(24 + ws),
    fileoff: w(24 + 2 * ws),
    filesize: w(24 + 3 * ws),
    maxprot: e.u32(at + p)!,
    initprot: e.u32(at + p + 4)!,
    nsects: e.u32(at + p + 8)!,
    flags: e.u32(at + p + 12)!,
    sections: [],
  };
  const ssize = is64 ? 80 : 68;
  const fits = Math.floor((cmdsize - fixed) / ssize);
  if (seg.nsects > fits) issues.push(issue('macho.bad-nsects', `segment ${seg.segname} declares ${seg.nsects} sections but cmdsize holds ${fits}`, at + p + 8));
  const count = Math.min(seg.nsects, fits);
  for (let j = 0; j < count; j++) {
    const s = readSection(e, at + fixed + j * ssize, is64);
    if (!s) {
      issues.push(issue('macho.truncated-sections', `only ${j} sections of segment ${seg.segname} fit in the file`, at + fixed + j * ssize));
      break;
    }
    seg.sections.push(s);
  }
  return seg;
}

/** section    := sectname[16], segname[16], addr, size (u32), offset, align, reloff, nreloc, flags, reserved1, reserved2
 *  section_64 := sectname[16], segname[16], addr, size (u64), offset, align, reloff, nreloc, flags, reserved1, reserved2, reserved3 */
function readSection(e: EndianReader, at: number, is64: boolean): MachOSection | undefined {
  if (!e.r.has(at, is64 ? 80 : 68)) return undefined;
  const ws = is64 ? 8 : 4;
  const q = 32 + 2 * ws;
  return {
    at,
    sectname: e.name16(at),
    segname: e.name16(at + 16),
    addr: is64 ? e.u64(at + 32)! : BigInt(e.u32(at + 32)!),
    size: is64 ? e.u64(at + 40)! : BigInt(e.u32(at + 36)!),
    offset: e.u32(at + q)!,
    align: e.u32(at + q + 4)!,
    reloff: e.u32(at + q + 8)!,
    nreloc: e.u32(at + q + 12)!,
    flags: e.u32(at + q + 16)!,
    reserved1: e.u32(at + q + 20)!,
    reserved2: e.u32(at + q + 24)!,
    ...(is64 ? { reserved3: e.u32(at + q + 28)! } : {}),
  };
}

/** The program counter in a thread state of `stateBytes` bytes at `at`, for the CPU/flavor pairs whose layout is fixed. */
function threadPc(e: EndianReader, cputype: number, flavor: number, at: number, stateBytes: number): bigint | undefined {
  const u32At = (o: number) => (o + 4 <= stateBytes ? e.u32(at + o) : undefined);
  const u64At = (o: number) => (o + 8 <= stateBytes ? e.u64(at + o) : undefined);
  const big = (v: number | undefined) => (v === undefined ? undefined : BigInt(v));
  if (cputype === CPU_TYPE_X86 && flavor === 1) return big(u32At(40)); // i386_thread_state: eip is word 10
  if (cputype === CPU_TYPE_X86_64 && flavor === 4) return u64At(128); // x86_thread_state64: rip is qword 16
  if (cputype === CPU_TYPE_ARM && flavor === 1) return big(u32At(60)); // arm_thread_state: r15
  if (cputype === CPU_TYPE_ARM64 && flavor === 6) return u64At(256); // arm_thread_state64: x0-x28, fp, lr, sp, pc
  if (cputype === CPU_TYPE_POWERPC && flavor === 1) return big(u32At(0)); // ppc_thread_state: srr0
  if (cputype === CPU_TYPE_POWERPC64 && flavor === 5) return u64At(0); // ppc_thread_state64: srr0
  return undefined;
}

/**
 * Parses a universal file's header.
 *
 *   Fat := fat_header(magic 0xcafebabe|0xcafebabf, nfat_arch) fat_arch{nfat_arch}   (big-endian)
 *   fat_arch := cputype, cpusubtype, offset u32, size u32, align;  fat_arch_64: offset u64, size u64, align, reserved
 */
export function parseMachOFat(bytes: Uint8Array): MachOFat | undefined {
  const r = new ByteReader(bytes);
  const magic = r.u32be(0);
  const nfatArch = r.u32be(4);
  if ((magic !== 0xcafebabe && magic !== 0xcafebabf) || nfatArch === undefined) return undefined;
  const is64 = magic === 0xcafebabf;
  const issues: HeaderIssue[] = [];
  const arches: MachOFatArch[] = [];
  const size = is64 ? 32 : 20;
  const n = Math.min(nfatArch, 0x20);
  if (nfatArch > n) issues.push(issue('macho.many-fat-arches', `nfat_arch ${nfatArch} is implausible (Java class file?)`, 4));
  for (let i = 0; i < n; i++) {
    const at = 8 + i * size;
    if (!r.has(at, size)) {
      issues.push(issue('macho.truncated-fat-arches', `only ${i} of ${nfatArch} architectures fit in the file`, at));
      break;
    }
    const word = (o: number): bigint => (is64 ? (BigInt(r.u32be(at + o)!) << 32n) | BigInt(r.u32be(at + o + 4)!) : BigInt(r.u32be(at + o)!));
    arches.push({
      cputype: r.u32be(at)!,
      cpusubtype: r.u32be(at + 4)!,
      offset: word(8),
      size: word(is64 ? 16 : 12),
      align: r.u32be(at + (is64 ? 24 : 16))!,
    });
  }
  return { magic, nfatArch, arches, issues };
}

// ───────────────────────────── ClamAV's view ─────────────────────────────

/** One section as ClamAV keeps it: addr, size, offset truncated to 32 bits; rsz = size rounded up to 1 << align. */
export interface MachOClamavSection {
  rva: number;
  vsz: number;
  raw: number;
  rsz: number;
  name: string;
}

export interface MachOClamavView {
  /** Entry point as a file offset: 0 unless a PPC/PPC64 thread state gives one (then mapped through the sections). */
  ep: number;
  /** The sections ClamAV counts (its count is 16-bit). */
  sections: MachOClamavSection[];
}

export type MachOClamavResult = { ok: true; view: MachOClamavView } | { ok: false; issue: HeaderIssue };

/**
 * ClamAV 1.4's reading of a thin Mach-O for target-info purposes (`cli_machoheader`): its own walk
 * of the load commands, its entry point and its section list, or the first reason it gives up.
 */
export function machoClamavView(bytes: Uint8Array): MachOClamavResult {
  const fail = (code: string, message: string, offset: number): MachOClamavResult => ({ ok: false, issue: issue(code, message, offset) });
  const r = new ByteReader(bytes);
  if (!r.has(0, 28)) return fail('macho.truncated-header', 'file too short for a mach header', 0);
  const kind = thinMagic(r.u32be(0));
  if (!kind) return fail('macho.bad-magic', 'no thin Mach-O magic', 0);
  const e = new EndianReader(r, kind.le);
  const m64 = kind.bits === 64;
  const cputype = e.u32(4)!;
  // Thread states ClamAV knows: 1 = x86 (read, no entry taken), 2 = PPC, 3 = PPC64.
  const arch = cputype === CPU_TYPE_X86 ? 1 : cputype === CPU_TYPE_POWERPC ? 2 : cputype === CPU_TYPE_POWERPC64 ? 3 : 0;
  const ncmds = e.u32(16)!;
  if (ncmds === 0 || ncmds > 1024) return fail('macho.bad-ncmds', `ncmds ${ncmds} is 0 or above 1024`, 16);

  let at = m64 ? 32 : 28;
  let ep = 0;
  const sections: MachOClamavSection[] = [];
  for (let i = 0; i < ncmds; i++) {
    if (!r.has(at, 8)) return fail('macho.truncated-load-command', `load command ${i} does not fit in the file`, at);
    const cmd = e.u32(at)!;
    const cmdsize = e.u32(at + 4)!;
    at += 8;
    if ((m64 && cmd === LC_SEGMENT_64) || (!m64 && cmd === LC_SEGMENT)) {
      const segBody = m64 ? 64 : 48;
      if (!r.has(at, segBody)) return fail('macho.truncated-segment', 'segment command does not fit in the file', at);
      const nsects = e.u32(at + (m64 ? 56 : 40))!;
      at += segBody;
      if (nsects > 255) return fail('macho.many-sections', `segment with ${nsects} sections (> 255)`, at - 8);
      for (let j = 0; j < nsects; j++) {
        const ssize = m64 ? 80 : 68;
        if (!r.has(at, ssize)) return fail('macho.truncated-section', 'section header does not fit in the file', at);
        const rva = m64 ? Number(e.u64(at + 32)! & 0xffffffffn) : e.u32(at + 32)!;
        const size = m64 ? e.u64(at + 40)! : BigInt(e.u32(at + 36)!);
        const raw = e.u32(at + (m64 ? 48 : 40))!;
        const alignExp = e.u32(at + (m64 ? 52 : 44))!;
        // 1.4.6: an alignment of 2^32 or more, a size above 32 bits, or a size that overflows
        // 32 bits when rounded up to the alignment makes the header malformed.
        if (alignExp >= 32) return fail('macho.bad-section-align', `section align 2^${alignExp}`, at + (m64 ? 52 : 44));
        const align = 2 ** alignExp;
        const vsz = Number(size);
        const rsz = size > 0xffffffffn ? Infinity : vsz + ((align - (vsz % align)) % align);
        if (rsz > 0xffffffff) return fail('macho.bad-section-size', `section size 0x${size.toString(16)} does not fit 32 bits once aligned`, at + (m64 ? 40 : 36));
        sections.push({ rva, vsz, raw, rsz, name: e.name16(at).slice(0, 15) });
        at += ssize;
      }
    } else if (arch && (cmd === LC_THREAD || cmd === LC_UNIXTHREAD)) {
      at += 8; // flavor, count
      const stateSize = arch === 1 ? 64 : arch === 2 ? 160 : 312;
      if (!r.has(at, stateSize)) return fail('macho.truncated-thread-state', 'thread state does not fit in the file', at);
      if (arch === 2) ep = e.u32(at)!;
      else if (arch === 3) ep = Number(e.u64(at)! & 0xffffffffn);
      at += stateSize;
    } else if (cmdsize > 8) {
      at += cmdsize - 8;
    }
  }

  const counted = sections.slice(0, sections.length & 0xffff);
  if (ep && sections.length) {
    const s = counted.find((c) => c.rva <= ep && ((c.rva + c.vsz) >>> 0) > ep);
    if (!s) return fail('macho.unmappable-entry-point', `entry point 0x${ep.toString(16)} lies in no section`, 0);
    ep = (ep - s.rva + s.raw) >>> 0;
  }
  return { ok: true, view: { ep, sections: counted } };
}
