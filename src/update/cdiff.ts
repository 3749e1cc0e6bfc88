/**
 * ClamAV `.cdiff` incremental updates → the next version of an unpacked database.
 *
 * In: the unpacked members of a `.cvd`/`.cld` (name → bytes, `COPYING` and the `.info` included;
 * `unpackContainer` produces them from a verified container) and the bytes of a `.cdiff`.
 * Out: a new map with the cdiff applied, or a refusal with a code, a message and, for script
 * errors, the 1-based script line. Nothing here throws on input and the input map is never
 * modified: a cdiff applies completely or not at all.
 *
 * Why: freshclam keeps official databases current by downloading `<db>-<N+1>.cdiff` rather than
 * the whole container. Applying them ourselves lets vigil follow the official channel while
 * checking everything ClamAV checks, and more.
 *
 * Format (reference §2.5; ClamAV 1.4 `libclamav_rust/src/cdiff.rs`):
 *   "ClamAV-Diff:" version ":" script-length ":" gzip(script) ":" dsig
 * The dsig (≤ 350 characters of ClamAV base-64) is RSASSA-PSS under ClamAV's cdiff key over the
 * SHA-256 of every byte before the last `:`; `verifyCdiffFile` in `signatures/clamav/cvd.ts`
 * checks it. The script is lines, each ending in `\n`; `#` lines are comments. Commands:
 *   OPEN <db>             start editing one file (only one open at a time)
 *   ADD <text>            append `<text>\n` when the file is closed
 *   DEL <n> <prefix>      delete original line n, which must start with prefix
 *   XCHG <n> <prefix> <new line>   replace original line n (checked as for DEL)
 *   CLOSE                 apply DEL/XCHG in one pass over the original lines, then the ADDs
 *   MOVE <src> <dst> <n1> <p1> <n2> <p2>   move lines n1..n2 of src to the end of dst (none open)
 *   UNLINK <db>           delete a file (none open)
 * Names are ASCII letters, digits and `.` (ClamAV 1.4 allows alphanumerics and `.`), never `.`/`..`.
 *
 * Stricter than ClamAV, so that what applies here is exactly what was signed and meant: the
 * declared script length must equal the decompressed length; a line number is decimal without
 * sign or leading zero; DEL/UNLINK take no extra tokens; an edited line number may appear once per
 * OPEN; a file left open at the end, an ADD without text, a MOVE whose range is empty or whose
 * source is its destination are refused. The cdiff's version must be the `.info` version plus one,
 * and after applying, the new `.info` must carry that version, a valid `DSIG:` and the size and
 * SHA-256 of every other file, with no file unlisted (COPYING excepted) — the checks a `.cld`
 * built from the result would face on load.
 */

import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';
import { readTar } from '../formats/tar.js';
import { CVD_HEADER_SIZE, loadContainer, verifyCdiffFile, verifyInfoSignature } from '../signatures/clamav/cvd.js';

/** Unpacked database: member name → bytes. */
export type DatabaseFiles = ReadonlyMap<string, Buffer>;

export interface CdiffFailure {
  ok: false;
  /** Stable code, e.g. `cdiff.signature`, `cdiff.script.pattern`. */
  code: string;
  message: string;
  /** 1-based line of the decompressed script, for script errors. */
  line?: number;
}
export type CdiffResult<T> = ({ ok: true } & T) | CdiffFailure;

/** Largest script accepted, in bytes (official daily cdiffs are well under 1 MiB). */
export const MAX_CDIFF_SCRIPT_BYTES = 64 * 1024 * 1024;
/** Largest unpacked container accepted by `unpackContainer`. */
export const MAX_UNPACKED_BYTES = 1024 * 1024 * 1024;

export type CdiffCommand =
  | { op: 'OPEN'; line: number; name: string }
  | { op: 'ADD'; line: number; text: Buffer }
  | { op: 'DEL'; line: number; lineNo: number; prefix: Buffer }
  | { op: 'XCHG'; line: number; lineNo: number; prefix: Buffer; text: Buffer }
  | { op: 'CLOSE'; line: number }
  | { op: 'MOVE'; line: number; src: string; dst: string; startNo: number; startPrefix: Buffer; endNo: number; endPrefix: Buffer }
  | { op: 'UNLINK'; line: number; name: string };

export interface ParsedCdiff {
  /** The database version this cdiff produces. */
  version: number;
  /** The decompressed script. */
  script: Buffer;
  commands: CdiffCommand[];
}

const fail = (code: string, message: string, line?: number): CdiffFailure =>
  line === undefined ? { ok: false, code, message } : { ok: false, code, message, line };

const show = (b: Buffer | string, max = 40): string => {
  const s = typeof b === 'string' ? b : b.toString('latin1');
  return JSON.stringify(s.length > max ? s.slice(0, max) + '…' : s);
};

// ---------------------------------------------------------------------------------------------
// Container → files

/**
 * Verifies a `.cvd`/`.cld`/`.cud` with `loadContainer` and returns every tar member, `COPYING`
 * and the `.info` included (the cdiff edits the `.info`).
 */
export function unpackContainer(bytes: Uint8Array, fileName: string): CdiffResult<{ files: Map<string, Buffer> }> {
  const load = loadContainer(bytes, fileName);
  const err = load.diagnostics.find((d) => d.severity === 'error');
  if (err) return fail('cdiff.container', err.message);
  const body = Buffer.from(bytes.buffer, bytes.byteOffset + CVD_HEADER_SIZE, bytes.length - CVD_HEADER_SIZE);
  let tar: Buffer;
  try {
    tar = body.subarray(0, 7).toString('latin1') === 'COPYING' ? body : zlib.gunzipSync(body, { maxOutputLength: MAX_UNPACKED_BYTES });
  } catch (e) {
    return fail('cdiff.container', `${fileName}: cannot decompress the body: ${(e as Error).message}`);
  }
  const r = readTar(tar);
  if (r.diagnostics.length > 0) return fail('cdiff.container', `${fileName}: tar: ${r.diagnostics[0]!.message}`);
  const files = new Map<string, Buffer>();
  for (const e of r.entries) files.set(e.name, Buffer.from(e.data));
  return { ok: true, files };
}

// ---------------------------------------------------------------------------------------------
// Parsing

const NAME_RE = /^[A-Za-z0-9.]+$/;
const LINENO_RE = /^[1-9][0-9]{0,9}$/;

function checkName(name: string): string | undefined {
  if (name === '') return 'a database name is missing';
  if (!NAME_RE.test(name)) return `database name ${show(name)} may contain only letters, digits and '.'`;
  if (name === '.' || name === '..') return `database name ${show(name)} is not a file name`;
  return undefined;
}

function splitSpaces(b: Buffer, max: number): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  while (out.length < max - 1) {
    const i = b.indexOf(0x20, start);
    if (i < 0) break;
    out.push(b.subarray(start, i));
    start = i + 1;
  }
  out.push(b.subarray(start));
  return out;
}

/** Parses a decompressed script (no signature involved). */
export function parseCdiffScript(script: Buffer): CdiffResult<{ commands: CdiffCommand[] }> {
  const commands: CdiffCommand[] = [];
  if (script.length > 0 && script[script.length - 1] !== 0x0a) {
    const n = script.subarray(0, script.length).toString('latin1').split('\n').length;
    return fail('cdiff.script.newline', `line ${n} has no final newline`, n);
  }
  let pos = 0;
  let lineNo = 0;
  while (pos < script.length) {
    lineNo++;
    const nl = script.indexOf(0x0a, pos);
    const line = script.subarray(pos, nl);
    pos = nl + 1;
    if (line[0] === 0x23) continue; // comment
    const bad = (code: string, message: string) => fail(code, `line ${lineNo}: ${message}`, lineNo);
    const sp = line.indexOf(0x20);
    const cmd = (sp < 0 ? line : line.subarray(0, sp)).toString('latin1');
    const rest = sp < 0 ? undefined : line.subarray(sp + 1);
    const num = (b: Buffer | undefined, what: string): number | CdiffFailure => {
      const s = b?.toString('latin1') ?? '';
      if (!LINENO_RE.test(s)) return bad('cdiff.script.syntax', `${cmd}: ${what} ${show(s)} is not a line number (decimal, from 1)`);
      return Number(s);
    };
    switch (cmd) {
      case 'OPEN':
      case 'UNLINK': {
        const name = rest?.toString('latin1') ?? '';
        const why = checkName(name);
        if (why) return bad('cdiff.script.name', `${cmd}: ${why}`);
        commands.push({ op: cmd, line: lineNo, name });
        break;
      }
      case 'ADD':
        if (rest === undefined) return bad('cdiff.script.syntax', 'ADD needs the text of a line');
        commands.push({ op: 'ADD', line: lineNo, text: rest });
        break;
      case 'DEL': {
        const t = rest === undefined ? [] : splitSpaces(rest, 3);
        if (t.length !== 2) return bad('cdiff.script.syntax', `DEL takes a line number and a prefix (found ${t.length} argument${t.length === 1 ? '' : 's'})`);
        const n = num(t[0], 'line number');
        if (typeof n !== 'number') return n;
        commands.push({ op: 'DEL', line: lineNo, lineNo: n, prefix: t[1]! });
        break;
      }
      case 'XCHG': {
        const t = rest === undefined ? [] : splitSpaces(rest, 3);
        if (t.length !== 3) return bad('cdiff.script.syntax', 'XCHG takes a line number, a prefix and the new line');
        const n = num(t[0], 'line number');
        if (typeof n !== 'number') return n;
        commands.push({ op: 'XCHG', line: lineNo, lineNo: n, prefix: t[1]!, text: t[2]! });
        break;
      }
      case 'MOVE': {
        const t = rest === undefined ? [] : splitSpaces(rest, 7);
        if (t.length !== 6) return bad('cdiff.script.syntax', 'MOVE takes src dst start-line start-prefix end-line end-prefix');
        const [src, dst] = [t[0]!.toString('latin1'), t[1]!.toString('latin1')];
        for (const name of [src, dst]) {
          const why = checkName(name);
          if (why) return bad('cdiff.script.name', `MOVE: ${why}`);
        }
        if (src === dst) return bad('cdiff.script.syntax', `MOVE: source and destination are both ${show(src)}`);
        const a = num(t[2], 'start line');
        if (typeof a !== 'number') return a;
        const b = num(t[4], 'end line');
        if (typeof b !== 'number') return b;
        if (b <= a) return bad('cdiff.script.syntax', `MOVE: end line ${b} is not after start line ${a}`);
        commands.push({ op: 'MOVE', line: lineNo, src, dst, startNo: a, startPrefix: t[3]!, endNo: b, endPrefix: t[5]! });
        break;
      }
      case 'CLOSE':
        if (rest !== undefined) return bad('cdiff.script.syntax', 'CLOSE takes no argument');
        commands.push({ op: 'CLOSE', line: lineNo });
        break;
      default:
        return bad('cdiff.script.command', `unknown command ${show(cmd)}`);
    }
  }
  return { ok: true, commands };
}

/**
 * Checks the signature of a whole `.cdiff`, then parses its header and decompresses and parses
 * its script. Refuses anything malformed.
 */
export function parseCdiff(bytes: Uint8Array): CdiffResult<ParsedCdiff> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const magic = 'ClamAV-Diff:';
  if (buf.subarray(0, magic.length).toString('latin1') !== magic) {
    return fail('cdiff.header', `does not start with ${show(magic)} (found ${show(buf.subarray(0, magic.length))})`);
  }
  const sig = verifyCdiffFile(bytes);
  if (!sig.ok) return fail('cdiff.signature', `digital signature ${sig.reason}`);
  const c1 = buf.indexOf(0x3a, magic.length);
  const c2 = c1 < 0 ? -1 : buf.indexOf(0x3a, c1 + 1);
  const last = buf.lastIndexOf(0x3a);
  if (c1 < 0 || c2 < 0 || c2 >= last) return fail('cdiff.header', 'the header lacks its version and script length fields');
  const vText = buf.subarray(magic.length, c1).toString('latin1');
  const lText = buf.subarray(c1 + 1, c2).toString('latin1');
  if (!LINENO_RE.test(vText)) return fail('cdiff.header', `version ${show(vText)} is not a positive decimal number`);
  if (!/^(0|[1-9][0-9]{0,9})$/.test(lText)) return fail('cdiff.header', `script length ${show(lText)} is not a decimal number`);
  const version = Number(vText);
  const length = Number(lText);
  if (length > MAX_CDIFF_SCRIPT_BYTES) return fail('cdiff.header', `script length ${length} exceeds ${MAX_CDIFF_SCRIPT_BYTES} bytes`);
  let script: Buffer;
  try {
    script = zlib.gunzipSync(buf.subarray(c2 + 1, last), { maxOutputLength: length + 1 });
  } catch (e) {
    return fail('cdiff.gzip', `the script at offset ${c2 + 1} does not decompress: ${(e as Error).message}`);
  }
  if (script.length !== length) return fail('cdiff.header', `the script is ${script.length} bytes, but the header declares ${length}`);
  const parsed = parseCdiffScript(script);
  if (!parsed.ok) return parsed;
  return { ok: true, version, script, commands: parsed.commands };
}

// ---------------------------------------------------------------------------------------------
// Applying

function splitLines(data: Buffer): { lines: Buffer[]; complete: boolean } {
  const lines: Buffer[] = [];
  let pos = 0;
  while (pos < data.length) {
    const nl = data.indexOf(0x0a, pos);
    if (nl < 0) {
      lines.push(data.subarray(pos));
      return { lines, complete: false };
    }
    lines.push(data.subarray(pos, nl + 1));
    pos = nl + 1;
  }
  return { lines, complete: true };
}

const startsWith = (line: Buffer, prefix: Buffer): boolean =>
  line.length >= prefix.length && line.subarray(0, prefix.length).equals(prefix);

/** Applies parsed commands to a copy of `files`; the input map is untouched. */
export function applyCdiffCommands(files: DatabaseFiles, commands: readonly CdiffCommand[]): CdiffResult<{ files: Map<string, Buffer> }> {
  const out = new Map(files);
  let open: { name: string; line: number; edits: Map<number, Extract<CdiffCommand, { op: 'DEL' | 'XCHG' }>>; adds: Buffer[] } | undefined;
  for (const c of commands) {
    const bad = (code: string, message: string) => fail(code, `line ${c.line}: ${message}`, c.line);
    switch (c.op) {
      case 'OPEN':
        if (open) return bad('cdiff.apply.open', `OPEN ${c.name} while ${open.name} (opened on line ${open.line}) is still open`);
        open = { name: c.name, line: c.line, edits: new Map(), adds: [] };
        break;
      case 'ADD':
        if (!open) return bad('cdiff.apply.open', 'ADD with no file open');
        open.adds.push(c.text, Buffer.from('\n'));
        break;
      case 'DEL':
      case 'XCHG':
        if (!open) return bad('cdiff.apply.open', `${c.op} with no file open`);
        if (open.edits.has(c.lineNo)) return bad('cdiff.apply.duplicate', `${c.op}: line ${c.lineNo} of ${open.name} is already edited on line ${open.edits.get(c.lineNo)!.line}`);
        open.edits.set(c.lineNo, c);
        break;
      case 'CLOSE': {
        if (!open) return bad('cdiff.apply.open', 'CLOSE with no file open');
        let data = out.get(open.name);
        if (open.edits.size > 0) {
          if (!data) return bad('cdiff.apply.missing', `${open.name} does not exist, so its lines cannot be edited`);
          const { lines, complete } = splitLines(data);
          if (!complete) return bad('cdiff.apply.newline', `${open.name} line ${lines.length} has no final newline`);
          const kept: Buffer[] = [];
          for (let i = 0; i < lines.length; i++) {
            const line = lines[i]!;
            const e = open.edits.get(i + 1);
            if (!e) { kept.push(line); continue; }
            if (!startsWith(line, e.prefix)) {
              return fail('cdiff.apply.pattern', `line ${e.line}: ${e.op} ${open.name} line ${i + 1}: the line starts ${show(line.subarray(0, line.length - 1))}, not ${show(e.prefix)}`, e.line);
            }
            if (e.op === 'XCHG') kept.push(e.text, Buffer.from('\n'));
          }
          for (const e of open.edits.values()) {
            if (e.lineNo > lines.length) return fail('cdiff.apply.range', `line ${e.line}: ${e.op} ${open.name} line ${e.lineNo}: the file has ${lines.length} lines`, e.line);
          }
          data = Buffer.concat(kept);
        }
        if (open.adds.length > 0) data = Buffer.concat([data ?? Buffer.alloc(0), ...open.adds]);
        if (data) out.set(open.name, data);
        open = undefined;
        break;
      }
      case 'MOVE': {
        if (open) return bad('cdiff.apply.open', `MOVE while ${open.name} is open`);
        const src = out.get(c.src);
        const dst = out.get(c.dst);
        if (!src) return bad('cdiff.apply.missing', `MOVE: source ${c.src} does not exist`);
        if (!dst) return bad('cdiff.apply.missing', `MOVE: destination ${c.dst} does not exist`);
        const { lines } = splitLines(src);
        if (c.endNo > lines.length) return bad('cdiff.apply.range', `MOVE: ${c.src} has ${lines.length} lines, fewer than ${c.endNo}`);
        const first = lines[c.startNo - 1]!;
        const lastLine = lines[c.endNo - 1]!;
        if (!startsWith(first, c.startPrefix)) return bad('cdiff.apply.pattern', `MOVE: ${c.src} line ${c.startNo} does not start with ${show(c.startPrefix)}`);
        if (!startsWith(lastLine, c.endPrefix)) return bad('cdiff.apply.pattern', `MOVE: ${c.src} line ${c.endNo} does not start with ${show(c.endPrefix)}`);
        out.set(c.dst, Buffer.concat([dst, ...lines.slice(c.startNo - 1, c.endNo)]));
        out.set(c.src, Buffer.concat([...lines.slice(0, c.startNo - 1), ...lines.slice(c.endNo)]));
        break;
      }
      case 'UNLINK':
        if (open) return bad('cdiff.apply.open', `UNLINK while ${open.name} is open`);
        if (!out.delete(c.name)) return bad('cdiff.apply.missing', `UNLINK: ${c.name} does not exist`);
        break;
    }
  }
  if (open) return fail('cdiff.apply.open', `${open.name} (opened on line ${open.line}) is never closed`, open.line);
  return { ok: true, files: out };
}

// ---------------------------------------------------------------------------------------------
// .info checks

interface InfoSummary {
  name: string;
  version: number;
  header: string;
}

function findInfo(files: DatabaseFiles): CdiffResult<{ name: string; data: Buffer }> {
  const names = [...files.keys()].filter((n) => n.toLowerCase().endsWith('.info'));
  if (names.length !== 1) return fail('cdiff.info', names.length === 0 ? 'the database has no .info file' : `the database has ${names.length} .info files (${names.join(', ')})`);
  return { ok: true, name: names[0]!, data: files.get(names[0]!)! };
}

function infoVersion(name: string, data: Buffer): CdiffResult<InfoSummary> {
  const nl = data.indexOf(0x0a);
  const header = data.subarray(0, nl < 0 ? data.length : nl).toString('latin1');
  const f = header.split(':');
  if (f[0] !== 'ClamAV-VDB' || f.length < 9 || !LINENO_RE.test(f[2] ?? '')) return fail('cdiff.info', `${name} line 1 is not a ClamAV-VDB header with a version`);
  return { ok: true, name, version: Number(f[2]), header };
}

/** The `.info` of `files` must be signed and list every other file (except COPYING) with its size and SHA-256. */
function checkInfo(files: DatabaseFiles, name: string, data: Buffer): CdiffFailure | undefined {
  const bad = (m: string) => fail('cdiff.result', `after applying: ${name} ${m}`);
  const { lines, complete } = splitLines(data);
  if (!complete) return bad(`line ${lines.length} has no final newline`);
  const listed = new Set<string>();
  let signedEnd = -1;
  let offset = 0;
  for (let i = 1; i < lines.length; i++) {
    offset += lines[i - 1]!.length;
    const text = lines[i]!.toString('latin1').slice(0, -1);
    if (text.startsWith('DSIG:')) {
      if (i !== lines.length - 1) return bad(`line ${i + 1}: the DSIG line is not the last line`);
      signedEnd = offset;
      const check = verifyInfoSignature(data.subarray(0, signedEnd), text.slice(5));
      if (!check.ok) return bad(`line ${i + 1}: digital signature ${check.reason}`);
      continue;
    }
    const m = /^([^:]+):(0|[1-9][0-9]*):([0-9a-f]{64})$/.exec(text);
    if (!m) return bad(`line ${i + 1}: ${show(text)} is not name:size:sha256`);
    const [, file, size, sha] = m as unknown as [string, string, string, string];
    const content = files.get(file);
    if (!content) return bad(`line ${i + 1}: lists ${file}, which does not exist`);
    if (content.length !== Number(size)) return bad(`line ${i + 1}: lists ${file} with size ${size}, but it is ${content.length} bytes`);
    const actual = createHash('sha256').update(content).digest('hex');
    if (actual !== sha) return bad(`line ${i + 1}: lists ${file} with SHA-256 ${sha}, but it is ${actual}`);
    listed.add(file);
  }
  if (signedEnd < 0) return bad('has no DSIG line');
  for (const f of files.keys()) {
    if (f !== name && f !== 'COPYING' && !listed.has(f)) return bad(`does not list ${f}`);
  }
  return undefined;
}

export interface ApplyOptions {
  /** Skip the checks of the resulting `.info` (its version, DSIG and file list). Default false. */
  skipResultCheck?: boolean;
}

/**
 * Verifies and applies one `.cdiff` to unpacked database files. The cdiff must produce version
 * `.info version + 1`; a cdiff applied twice or out of order is refused by that check.
 */
export function applyCdiff(files: DatabaseFiles, cdiff: Uint8Array, opts: ApplyOptions = {}): CdiffResult<{ files: Map<string, Buffer>; version: number }> {
  const parsed = parseCdiff(cdiff);
  if (!parsed.ok) return parsed;
  const info = findInfo(files);
  if (!info.ok) return info;
  const before = infoVersion(info.name, info.data);
  if (!before.ok) return before;
  if (parsed.version !== before.version + 1) {
    return fail('cdiff.version', `the cdiff produces version ${parsed.version}, but the database is at version ${before.version} (it needs the cdiff for version ${before.version + 1})`);
  }
  const applied = applyCdiffCommands(files, parsed.commands);
  if (!applied.ok) return applied;
  if (!opts.skipResultCheck) {
    const newInfo = findInfo(applied.files);
    if (!newInfo.ok) return fail('cdiff.result', `after applying: ${newInfo.message}`);
    const after = infoVersion(newInfo.name, newInfo.data);
    if (!after.ok) return fail('cdiff.result', `after applying: ${after.message}`);
    if (after.version !== parsed.version) return fail('cdiff.result', `after applying: ${newInfo.name} says version ${after.version}, not ${parsed.version} as the cdiff header does`);
    const problem = checkInfo(applied.files, newInfo.name, newInfo.data);
    if (problem) return problem;
  }
  return { ok: true, files: applied.files, version: parsed.version };
}
