/**
 * Builds Excel BIFF8 workbook streams for the tests of the Excel 4 (XLM) macro reader (no tool
 * installed here writes macro sheets).
 *
 * In: records made by the helpers below (BOF, BOUNDSHEET8, NAME with built-in names such as
 * Auto_Open, FORMULA with parsed-expression tokens, STRING, LABEL, SST split across CONTINUE,
 * FILEPASS, MSODRAWINGGROUP holding a BLIP store). Out: the `Workbook` stream's bytes, which
 * `xlsFile` puts into an OLE2 compound file. Each helper follows the layout of Microsoft's Excel
 * binary file format specification (MS-XLS) and the Office drawing format (MS-ODRAW); nothing is
 * checked, so that tests can also write damaged records.
 */
import { buildCfb, type CfbOptions, type CfbStream } from './cfb-writer.js';

const u16 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff];
const u32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
const latin1 = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0) & 0xff);
const utf16 = (s: string): number[] => Array.from(s).flatMap((c) => {
  const out: number[] = [];
  for (let k = 0; k < c.length; k++) out.push(...u16(c.charCodeAt(k)));
  return out;
});

/** One record: opcode, length and data (the length is the data's, cut to 16 bits unless given). */
export function record(opcode: number, data: Uint8Array | readonly number[], length?: number): Uint8Array {
  const body = data instanceof Uint8Array ? data : Uint8Array.from(data);
  const out = new Uint8Array(4 + body.length);
  out.set([...u16(opcode), ...u16(length ?? body.length)]);
  out.set(body, 4);
  return out;
}

/** Record numbers. */
export const OP = {
  FORMULA: 0x06, EOF: 0x0a, NAME: 0x18, FILEPASS: 0x2f, CONTINUE: 0x3c, BOUNDSHEET: 0x85,
  MSODRAWINGGROUP: 0xeb, SST: 0xfc, LABELSST: 0xfd, LABEL: 0x204, STRING: 0x207, BOF: 0x809,
} as const;

/** Substream types of BOF. */
export const BOF_GLOBALS = 0x0005, BOF_SHEET = 0x0010, BOF_CHART = 0x0020, BOF_MACRO = 0x0040;

export const bof = (dt: number = BOF_GLOBALS): Uint8Array =>
  record(OP.BOF, [...u16(0x0600), ...u16(dt), ...u16(0x0dbb), ...u16(0x07cc), ...u32(0x000100d1), ...u32(0x00000406)]);
export const eof = (): Uint8Array => record(OP.EOF, []);

/** Sheet types and hidden states of BOUNDSHEET8. */
export const SHEET = { worksheet: 0, macro: 1, chart: 2, vba: 6 } as const;
export const VISIBLE = 0, HIDDEN = 1, VERY_HIDDEN = 2;

/** BOUNDSHEET8: stream position of the sheet's BOF, hidden state, type, name (8-bit or UTF-16). */
export function boundsheet(name: string, type: number, state: number = VISIBLE, position = 0, unicode = false): Uint8Array {
  return record(OP.BOUNDSHEET, [...u32(position), state, type, name.length, unicode ? 1 : 0, ...(unicode ? utf16(name) : latin1(name))]);
}

/** Built-in names (the one character of a NAME with fBuiltin). */
export const BUILTIN = { Auto_Open: 1, Auto_Close: 2, Extract: 3, Database: 4, Criteria: 5, Print_Area: 6 } as const;

/**
 * NAME: a built-in name (a number from `BUILTIN`) or a user-defined one, with its formula
 * (parsed expression). `hidden` sets fHidden, `macro` fFunc|fOB (a macro name).
 */
export function name(text: string | number, rgce: readonly number[], opts: { hidden?: boolean; macro?: boolean; sheet?: number } = {}): Uint8Array {
  const builtin = typeof text === 'number';
  const flags = (opts.hidden ? 0x01 : 0) | (opts.macro ? 0x0a : 0) | (builtin ? 0x20 : 0);
  const chars = builtin ? [text] : latin1(text);
  return record(OP.NAME, [...u16(flags), 0, chars.length, ...u16(rgce.length), 0, 0, ...u16(opts.sheet ?? 0), 0, 0, 0, 0, 0, ...chars, ...rgce]);
}

/** FORMULA: cell (row, column), XF 15, cached value 0, flags, then the parsed expression. */
export function formula(row: number, col: number, rgce: readonly number[], cce = rgce.length): Uint8Array {
  return record(OP.FORMULA, [...u16(row), ...u16(col), ...u16(15), 0, 0, 0, 0, 0, 0, 0, 0, ...u16(0x0002), 0, 0, 0, 0, ...u16(cce), ...rgce]);
}

/** STRING (a formula's string result): 8-bit or UTF-16. */
export function stringRecord(text: string, unicode = false): Uint8Array {
  return record(OP.STRING, [...u16(text.length), unicode ? 1 : 0, ...(unicode ? utf16(text) : latin1(text))]);
}

/** LABEL (a string cell, BIFF8 with a flag byte). */
export function label(row: number, col: number, text: string, unicode = false): Uint8Array {
  return record(OP.LABEL, [...u16(row), ...u16(col), ...u16(15), ...u16(text.length), unicode ? 1 : 0, ...(unicode ? utf16(text) : latin1(text))]);
}

export const labelSst = (row: number, col: number, index: number): Uint8Array => record(OP.LABELSST, [...u16(row), ...u16(col), ...u16(15), ...u32(index)]);

/**
 * SST: the shared strings, split into CONTINUE records at `max` bytes of data; a string cut by
 * a record boundary goes on after a new flag byte (BIFF8's rule), as Excel writes them.
 */
export function sst(strings: readonly string[], max = 8224): Uint8Array[] {
  const records: number[][] = [[...u32(strings.length), ...u32(strings.length)]];
  let cur = records[0]!;
  for (const s of strings) {
    const unicode = Array.from(s).some((c) => c.charCodeAt(0) > 0xff);
    if (cur.length + 4 > max) { cur = []; records.push(cur); }
    cur.push(...u16(s.length), unicode ? 1 : 0);
    for (const c of s) {
      const bytes = unicode ? u16(c.charCodeAt(0)) : [c.charCodeAt(0)];
      if (cur.length + bytes.length > max) { cur = [unicode ? 1 : 0]; records.push(cur); }
      cur.push(...bytes);
    }
  }
  return records.map((r, k) => record(k === 0 ? OP.SST : OP.CONTINUE, r));
}

/** FILEPASS with RC4 encryption (the workbook's later records would be encrypted). */
export const filepass = (): Uint8Array => record(OP.FILEPASS, [...u16(1), ...u16(1), ...u16(1), ...new Array<number>(48).fill(0x5a)]);

/** Parsed-expression tokens. */
export const ptg = {
  int: (n: number): number[] => [0x1e, ...u16(n)],
  num: (x: number): number[] => { const b = new DataView(new ArrayBuffer(8)); b.setFloat64(0, x, true); return [0x1f, ...new Uint8Array(b.buffer)]; },
  bool: (v: boolean): number[] => [0x1d, v ? 1 : 0],
  /** ptgStr: 8-bit or UTF-16 characters after a count and a flag byte. */
  str: (s: string, unicode = false): number[] => [0x17, s.length, unicode ? 1 : 0, ...(unicode ? utf16(s) : latin1(s))],
  /** ptgRef (0x24), ptgRefV (0x44): row with relative flags in its top bits, column. */
  ref: (row: number, col: number, cls = 0x24, rowRel = false, colRel = false): number[] => [cls, ...u16((row & 0x3fff) | (rowRel ? 0x4000 : 0) | (colRel ? 0x8000 : 0)), ...u16(col)],
  area: (r1: number, c1: number, r2: number, c2: number): number[] => [0x25, ...u16(r1), ...u16(r2), ...u16(c1), ...u16(c2)],
  ref3d: (sheet: number, row: number, col: number): number[] => [0x3a, ...u16(sheet), ...u16(row), ...u16(col)],
  name: (index: number): number[] => [0x23, ...u32(index)],
  nameX: (sheet: number, index: number): number[] => [0x39, ...u16(sheet), ...u16(index), 0, 0],
  func: (id: number, cls = 0x21): number[] => [cls, ...u16(id)],
  funcVar: (argc: number, id: number, cls = 0x22): number[] => [cls, argc, ...u16(id)],
  attrSum: (): number[] => [0x19, 0x10, 0, 0],
  attrChoose: (offsets: readonly number[]): number[] => [0x19, 0x40, ...u16(offsets.length - 1), ...offsets.flatMap(u16)],
  memArea: (cce: number): number[] => [0x26, 0, 0, 0, 0, ...u16(cce)],
  exp: (row: number, col: number): number[] => [0x01, ...u16(row), ...u16(col)],
  missArg: (): number[] => [0x16],
  add: (): number[] => [0x03],
  sub: (): number[] => [0x04],
  concat: (): number[] => [0x08],
  eq: (): number[] => [0x0b],
  range: (): number[] => [0x11],
  paren: (): number[] => [0x15],
};

/** Function numbers (ftab) used by Excel 4 macros. */
export const FN = {
  GOTO: 53, HALT: 54, RETURN: 55, SET_VALUE: 108, EXEC: 110, CHAR: 111, FOPEN: 132, FCLOSE: 133, FWRITE: 138, REGISTER: 149, CALL: 150,
  GET_WORKSPACE: 186, RUN: 0x8011, FORMULA: 0x8060, FORMULA_FILL: 0x8061, ALERT: 0x8076, WORKBOOK_HIDE: 0x817f,
} as const;

/** An image for the drawing group's BLIP store. */
export interface BlipImage {
  /** OfficeArt record type: 0xF01E PNG, 0xF01D JPEG, 0xF01F DIB, 0xF029 TIFF, 0xF01A EMF, 0xF01B WMF, 0xF01C PICT. */
  recType: number;
  /** recInstance (0x6E0 for a PNG with one UID…). */
  instance: number;
  data: Uint8Array;
  /** Put the BLIP inside an FBSE record (as Excel does) rather than directly in the store. */
  inFbse?: boolean;
}

/** Bytes between a BLIP record's header and its image: UIDs and the tag or the metafile header. */
function blipPrefix(img: BlipImage): number {
  const metafile = img.recType >= 0xf01a && img.recType <= 0xf01c;
  const twoUids = (img.instance & 1) === 1;
  return (twoUids ? 32 : 16) + (metafile ? 34 : 1);
}

const artHeader = (ver: number, instance: number, type: number, len: number): number[] => [...u16((ver & 0xf) | (instance << 4)), ...u16(type), ...u32(len)];

/** OfficeArtDggContainer with a BLIP store holding the images (FBSE records or bare BLIPs). */
export function drawingGroupData(images: readonly BlipImage[]): Uint8Array {
  const blocks: number[] = [];
  for (const img of images) {
    const prefix = new Array<number>(blipPrefix(img)).fill(0x11);
    const blip = [...artHeader(0, img.instance, img.recType, prefix.length + img.data.length), ...prefix, ...img.data];
    if (img.inFbse ?? true) {
      const fbse = [6, 6, ...new Array<number>(16).fill(0x22), ...u16(0xff), ...u32(blip.length), ...u32(1), ...u32(0), 0, 0, 0, 0];
      blocks.push(...artHeader(2, 6, 0xf007, fbse.length + blip.length), ...fbse, ...blip);
    } else blocks.push(...blip);
  }
  const dgg = [...artHeader(0, 0, 0xf006, 16), ...u32(1026), ...u32(2), ...u32(1), ...u32(1)];
  const store = [...artHeader(0xf, images.length, 0xf001, blocks.length), ...blocks];
  const body = [...dgg, ...store];
  return Uint8Array.from([...artHeader(0xf, 0, 0xf000, body.length), ...body]);
}

/** MSODRAWINGGROUP records (the first, then CONTINUE records) carrying `data` in pieces of `max` bytes. */
export function drawingGroup(data: Uint8Array, max = 8224): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < data.length || at === 0; at += max) {
    out.push(record(at === 0 ? OP.MSODRAWINGGROUP : OP.CONTINUE, data.subarray(at, at + max)));
    if (data.length === 0) break;
  }
  return out;
}

/** The records one after another. */
export function workbook(records: readonly (Uint8Array | readonly Uint8Array[])[]): Uint8Array {
  const flat = records.flatMap((r) => (r instanceof Uint8Array ? [r] : [...r]));
  const out = new Uint8Array(flat.reduce((n, r) => n + r.length, 0));
  let at = 0;
  for (const r of flat) { out.set(r, at); at += r.length; }
  return out;
}

/** An .xls file: the workbook stream (named `Workbook` unless told) and other streams in a compound file. */
export function xlsFile(book: Uint8Array, extra: readonly CfbStream[] = [], opts: CfbOptions & { streamName?: string } = {}): Uint8Array {
  return buildCfb([{ path: opts.streamName ?? 'Workbook', data: book }, ...extra], opts);
}
