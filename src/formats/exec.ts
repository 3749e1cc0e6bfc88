/**
 * Executable target info: bytes of a PE, ELF or Mach-O file → the entry point and sections exactly
 * as ClamAV 1.4 computes them for body-signature offsets (`EP+n`, `EP-n`, `Sx+n`, `SEx`, `SL+n`) and
 * for the logical-signature attributes `EntryPoint` and `NumberOfSections`.
 *
 * In: the file's bytes and the executable kind its file type implies (target 1 → 'pe', 6 → 'elf',
 * 9 → 'macho'). Out: an `ExecInfo`, or undefined when ClamAV would refuse the header; in that case
 * ClamAV matches no relative-offset signature on the file (and, for these targets, no `EOF-n`
 * one either), and no `EntryPoint`/`NumberOfSections` condition holds.
 *
 * The per-format parsers (`pe.ts`, `elf.ts`, `macho.ts`) each keep a faithful structural parse and a
 * separate "ClamAV view" that reproduces ClamAV's quirks (alignment rounding, 32-bit truncation and
 * wrap-around, its own limits). This file only dispatches and normalises those views, and resolves
 * an offset form against them (`resolveExecOffset`), so that the matcher needs no format knowledge.
 */

import { parsePe, peClamavView, type PeFile } from './pe.js';
import { parseElf, elfClamavView, type ElfFile } from './elf.js';
import { parseMachO, machoClamavView, type MachOFile } from './macho.js';

/** Something odd or fatal found in a header, at a byte offset of the input. `code` is stable (`pe.*`, `elf.*`, `macho.*`). */
export interface HeaderIssue {
  code: string;
  message: string;
  offset: number;
}

export type ExecKind = 'pe' | 'elf' | 'macho';

/** A section as ClamAV records it (`struct cli_exe_section`). All values are 32-bit unsigned. */
export interface ExecSection {
  /** Virtual address (PE: rounded down to SectionAlignment; ELF: sh_addr; Mach-O: addr). */
  rva: number;
  /** Virtual size (PE: rounded up to SectionAlignment; ELF: 0, ClamAV does not record it; Mach-O: size). */
  vsize: number;
  /** Raw file offset: the base of `Sx+n`, `SEx` and `SL+n`. */
  raw: number;
  /** Raw size: the extent of `SEx` (PE: rounded to the file alignment and clipped to the file). */
  rsize: number;
  name?: string;
}

export interface ExecInfo {
  format: ExecKind;
  /** Entry point as a raw file offset, as ClamAV computes it (32-bit). */
  entryPoint: number;
  /** Sections in header order; `sections.length` is ClamAV's NumberOfSections. */
  sections: ExecSection[];
  /** The structural parse behind this info, for readers that need more than offsets. */
  pe?: PeFile;
  elf?: ElfFile;
  macho?: MachOFile;
}

export type ExecInfoResult = { ok: true; info: ExecInfo } | { ok: false; issue: HeaderIssue };

/** ClamAV's target info for `bytes` read as `kind`, or undefined when ClamAV refuses the header. */
export function execInfo(bytes: Uint8Array, kind: ExecKind): ExecInfo | undefined {
  const r = readExecInfo(bytes, kind);
  return r.ok ? r.info : undefined;
}

/** Like `execInfo`, but says why the header was refused. */
export function readExecInfo(bytes: Uint8Array, kind: ExecKind): ExecInfoResult {
  switch (kind) {
    case 'pe': {
      const parsed = parsePe(bytes);
      if (!parsed.pe) return { ok: false, issue: parsed.issues[0]! };
      const v = peClamavView(parsed.pe);
      if (!v.ok) return v;
      return {
        ok: true,
        info: {
          format: 'pe',
          entryPoint: v.view.ep,
          sections: v.view.sections.map((s) => ({ rva: s.rva, vsize: s.vsz, raw: s.raw, rsize: s.rsz, name: s.name })),
          pe: parsed.pe,
        },
      };
    }
    case 'elf': {
      const parsed = parseElf(bytes);
      if (!parsed.elf) return { ok: false, issue: parsed.issues[0]! };
      const v = elfClamavView(parsed.elf);
      if (!v.ok) return v;
      return {
        ok: true,
        info: {
          format: 'elf',
          entryPoint: v.view.ep,
          sections: v.view.sections.map((s) => ({ rva: s.rva, vsize: 0, raw: s.raw, rsize: s.rsz, ...(s.name !== undefined ? { name: s.name } : {}) })),
          elf: parsed.elf,
        },
      };
    }
    case 'macho': {
      const v = machoClamavView(bytes);
      if (!v.ok) return v;
      const parsed = parseMachO(bytes);
      return {
        ok: true,
        info: {
          format: 'macho',
          entryPoint: v.view.ep,
          sections: v.view.sections.map((s) => ({ rva: s.rva, vsize: s.vsz, raw: s.raw, rsize: s.rsz, name: s.name })),
          ...(parsed.macho ? { macho: parsed.macho } : {}),
        },
      };
    }
  }
}

/** The relative offset forms (reference §1.2), shaped like the signature parser's `OffsetSpec` members. */
export type ExecOffsetForm =
  | { kind: 'ep'; n: number; shift: number } // EP+n, or EP-n with n < 0
  | { kind: 'section'; index: number; n: number; shift: number } // Sx+n
  | { kind: 'sectionEntire'; index: number; shift: number } // SEx
  | { kind: 'lastSection'; n: number; shift: number }; // SL+n

/**
 * Where a relative offset may start, as ClamAV computes it: `[min, max]` in 32-bit unsigned
 * arithmetic (so `EP-n` before the file start wraps to a huge offset and never matches), or
 * undefined when the form names no section (`Sx`/`SEx` with x ≥ NumberOfSections, `SL` with no
 * sections). `SEx` spans the section's raw extent plus MaxShift; the others span MaxShift.
 */
export function resolveExecOffset(info: ExecInfo, form: ExecOffsetForm): { min: number; max: number } | undefined {
  const u32 = (v: number) => v >>> 0;
  switch (form.kind) {
    case 'ep': {
      const min = u32(info.entryPoint + form.n);
      return { min, max: u32(min + form.shift) };
    }
    case 'section': {
      const s = info.sections[form.index];
      if (!s) return undefined;
      const min = u32(s.raw + form.n);
      return { min, max: u32(min + form.shift) };
    }
    case 'sectionEntire': {
      const s = info.sections[form.index];
      if (!s) return undefined;
      return { min: s.raw, max: u32(s.raw + s.rsize + form.shift) };
    }
    case 'lastSection': {
      const s = info.sections[info.sections.length - 1];
      if (!s) return undefined;
      const min = u32(s.raw + form.n);
      return { min, max: u32(min + form.shift) };
    }
  }
}
