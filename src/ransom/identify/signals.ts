/**
 * Gathering the signals of a ransomware infection from files on the affected machine.
 *
 * In: ransom-note files (`--note`: text or HTML, UTF-8, UTF-16 LE/BE with or without a BOM,
 * Windows-1252; at most 1 MiB read), encrypted samples (`--sample`: only the first and last 4 KiB
 * are read, whatever the size), a directory to survey (`--dir`: at most 50,000 entries, 32 levels,
 * no symbolic link below it followed, each directory visited once by device and inode), and optionally
 * the compiled knowledge base (to recognise encrypted names and note names while walking).
 * Out: `Signals` — encrypted names, notes (name and plain text), e-mails, onions, BTC and XMR
 * addresses (checked, see addresses.ts), samples (size, head, tail, Shannon entropy of the sampled
 * bytes) — and a report of what was walked, capped and could not be read, each with its path.
 * Why: identification only sees what this module gives it; everything here is bounded because the
 * input is a damaged, possibly hostile file system (a 1 GiB sample, a note that is binary junk, a
 * directory loop, a million files).
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, opendirSync, readSync, statSync, type Dir } from 'node:fs';
import { basename, join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Signals } from '../types.js';
import { extractBtc, extractEmails, extractOnions, extractXmr } from './addresses.js';
import { COMMON_EXTENSIONS, finalExtension, matchName, matchNoteName, type KbIndex } from './score.js';

export const MAX_NOTE_BYTES = 1024 * 1024;
export const SAMPLE_BYTES = 4096;
export const MAX_WALK_ENTRIES = 50_000;
export const MAX_WALK_DEPTH = 32;
export const MAX_SAMPLES = 5;
/** Notes collected from a directory, and small text files read to look for notes. */
export const MAX_DIR_NOTES = 20;
export const MAX_NOTE_PROBES = 300;
/** Text files larger than this are not probed as possible notes while walking. */
export const MAX_PROBE_BYTES = 64 * 1024;
/** Encrypted names kept per extension group, and in all. */
export const MAX_NAMES_PER_GROUP = 200;
export const MAX_ENCRYPTED_NAMES = 2000;

export interface Problem {
  path: string;
  message: string;
}

export interface NoteRead {
  name: string;
  text: string;
  encoding: 'utf-8' | 'utf-16le' | 'utf-16be' | 'windows-1252';
  html: boolean;
  truncated: boolean;
  /** True when the bytes do not look like text (the text is what could be salvaged). */
  binary: boolean;
}

export interface WalkReport {
  root: string;
  entries: number;
  files: number;
  dirs: number;
  /** Symbolic links seen and not followed. */
  links: number;
  capped: boolean;
  depthCapped: boolean;
  /** Candidate encrypted files found (all of them, not only the names kept). */
  encrypted: number;
  /** Extensions taken as the encrypted-file extension, with their counts. */
  groups: { extension: string; count: number; known: boolean }[];
  notes: string[];
}

export interface Gathered {
  signals: Signals;
  problems: Problem[];
  notes: NoteRead[];
  walk?: WalkReport;
}

export function emptySignals(): Signals {
  return { encryptedNames: [], notes: [], emails: [], onions: [], btc: [], xmr: [], samples: [] };
}

function errMessage(e: unknown): string {
  const x = e as NodeJS.ErrnoException;
  if (x && typeof x === 'object' && 'code' in x && x.code && !x.message.startsWith(x.code)) return `${x.code}: ${x.message}`;
  return e instanceof Error ? e.message : String(e);
}

/**
 * Opens for reading without blocking: a FIFO or a device named as a note or sample must not hang
 * the run (the caller then refuses anything that is not a regular file).
 */
function openReadOnly(path: string): number {
  return openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
}

/** Reads at most `max` bytes from `at` of a regular file. */
function readBounded(fd: number, at: number, max: number): Uint8Array {
  const buf = Buffer.alloc(max);
  let got = 0;
  while (got < max) {
    const n = readSync(fd, buf, got, max - got, at + got);
    if (n <= 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** Decodes note bytes: BOM first, then UTF-16 by its zero bytes, then UTF-8, then Windows-1252. */
export function decodeText(b: Uint8Array): { text: string; encoding: NoteRead['encoding'] } {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return { text: new TextDecoder('utf-8').decode(b.subarray(3)), encoding: 'utf-8' };
  if (b[0] === 0xff && b[1] === 0xfe) return { text: buf.subarray(2, 2 + ((b.length - 2) & ~1)).toString('utf16le'), encoding: 'utf-16le' };
  if (b[0] === 0xfe && b[1] === 0xff) return { text: utf16be(buf.subarray(2)), encoding: 'utf-16be' };
  // No BOM: ASCII-range UTF-16 has a zero in every other byte.
  const n = Math.min(b.length, 4096) & ~1;
  if (n >= 4) {
    let evenZero = 0;
    let oddZero = 0;
    for (let i = 0; i < n; i += 2) {
      if (b[i] === 0) evenZero++;
      if (b[i + 1] === 0) oddZero++;
    }
    const half = n / 2;
    if (oddZero > 0.4 * half && evenZero < 0.05 * half) return { text: buf.subarray(0, b.length & ~1).toString('utf16le'), encoding: 'utf-16le' };
    if (evenZero > 0.4 * half && oddZero < 0.05 * half) return { text: utf16be(buf), encoding: 'utf-16be' };
  }
  // A cut at the 1 MiB cap can split the last character: leave an incomplete sequence out.
  let end = b.length;
  for (let k = b.length - 1; k >= Math.max(0, b.length - 4); k--) {
    const c = b[k] as number;
    if ((c & 0xc0) === 0x80) continue;
    const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    if (k + need > b.length) end = k;
    break;
  }
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(0, end)), encoding: 'utf-8' };
  } catch {
    return { text: new TextDecoder('windows-1252').decode(b), encoding: 'windows-1252' };
  }
}

function utf16be(b: Buffer): string {
  const n = b.length & ~1;
  const sw = Buffer.alloc(n);
  for (let i = 0; i < n; i += 2) {
    sw[i] = b[i + 1] as number;
    sw[i + 1] = b[i] as number;
  }
  return sw.toString('utf16le');
}

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', copy: '©', laquo: '«', raquo: '»', mdash: '—', ndash: '–', hellip: '…' };

function entityChar(cp: number): string {
  return cp > 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) ? String.fromCodePoint(cp) : ' ';
}

/** True when a text looks like HTML (or HTA). */
export function looksHtml(text: string, name = ''): boolean {
  if (/\.(?:html?|hta|xhtml|mht)$/i.test(name)) return true;
  return /<(?:!doctype\s+html|html|head|body|div|p|br|span|table|font|center|h[1-6])\b/i.test(text.slice(0, 65536));
}

/** Removes `<tag …>…</tag>` blocks (and comments) in one linear pass; an unclosed block runs to the end. */
function dropBlocks(html: string): string {
  const lower = html.toLowerCase();
  let out = '';
  let at = 0;
  const open = /<!--|<(script|style|head|title)\b/g;
  for (;;) {
    open.lastIndex = at;
    const m = open.exec(lower);
    if (!m) break;
    out += html.slice(at, m.index) + ' ';
    const close = m[1] ? lower.indexOf(`</${m[1]}`, m.index + m[0].length) : lower.indexOf('-->', m.index + 4);
    if (close < 0) return out;
    at = m[1] ? (lower.indexOf('>', close) + 1 || lower.length) : close + 3;
  }
  return out + html.slice(at);
}

/** The visible text of an HTML note: scripts, styles and comments dropped, blocks on their own lines, entities decoded. */
export function htmlToText(html: string): string {
  return dropBlocks(html)
    .replace(/<(?:br|\/p|\/div|\/li|\/tr|\/h[1-6]|\/title|p|div|li|tr|h[1-6])\b[^<>]{0,2000}>/gi, '\n')
    .replace(/<\/?[a-z!?][^<>]{0,2000}>/gi, ' ')
    // What is left of `<` and `>` is broken markup (visible ones are written `&lt;` `&gt;`).
    .replace(/[<>]/g, ' ')
    .replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,8});/gi, (m, e: string) => {
      const l = e.toLowerCase();
      if (l.startsWith('#x')) return entityChar(parseInt(l.slice(2), 16));
      if (l.startsWith('#')) return entityChar(parseInt(l.slice(1), 10));
      return ENTITIES[l] ?? m;
    })
    .replace(/[ \t\f\v\u00a0]+/g, ' ')
    .replace(/ *\n\s*/g, '\n')
    .trim();
}

/** Control characters other than tab and line breaks become spaces; the share that were text. */
function sanitise(text: string): { text: string; printable: number } {
  let bad = 0;
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const control = (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || (c >= 0x7f && c <= 0x9f) || c === 0xfffd || c === 0xfffe || c === 0xffff;
    if (!control) continue;
    bad++;
    out += text.slice(from, i) + ' ';
    from = i + 1;
  }
  out += text.slice(from);
  return { text: out, printable: text.length === 0 ? 1 : 1 - bad / text.length };
}

/** Reads a ransom note (at most MAX_NOTE_BYTES), decoded, with HTML reduced to its text. */
export function readNoteFile(path: string): NoteRead {
  const fd = openReadOnly(path);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error('not a regular file');
    const bytes = readBounded(fd, 0, Math.min(st.size || MAX_NOTE_BYTES, MAX_NOTE_BYTES));
    return noteFromBytes(basename(path), bytes, st.size > MAX_NOTE_BYTES);
  } finally {
    closeSync(fd);
  }
}

/** A note from its bytes (the work of readNoteFile without the file). */
export function noteFromBytes(name: string, bytes: Uint8Array, truncated = false): NoteRead {
  const { text: raw, encoding } = decodeText(bytes);
  const html = looksHtml(raw, name);
  const { text, printable } = sanitise(html ? htmlToText(raw) : raw);
  return { name, text, encoding, html, truncated, binary: printable < 0.95 };
}

/** Shannon entropy of the bytes, bits per byte (0..8). */
export function shannonEntropy(b: Uint8Array): number {
  if (b.length === 0) return 0;
  const counts = new Uint32Array(256);
  for (let i = 0; i < b.length; i++) { const v = b[i] as number; counts[v] = (counts[v] as number) + 1; }
  let h = 0;
  for (let i = 0; i < 256; i++) {
    const c = counts[i] as number;
    if (c > 0) {
      const p = c / b.length;
      h -= p * Math.log2(p);
    }
  }
  return h;
}

/** An encrypted sample: size, first and last SAMPLE_BYTES (two reads, whatever the size), entropy. */
export function readSample(path: string): Signals['samples'][number] {
  const fd = openReadOnly(path);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error('not a regular file');
    const size = st.size;
    const head = readBounded(fd, 0, Math.min(size, SAMPLE_BYTES));
    const tailStart = Math.max(0, size - SAMPLE_BYTES);
    const tail = readBounded(fd, tailStart, size - tailStart);
    // Entropy over the distinct sampled bytes (head and tail overlap in files under 8 KiB).
    const overlap = Math.max(0, head.length - tailStart);
    const sampled = new Uint8Array(head.length + tail.length - overlap);
    sampled.set(head);
    sampled.set(tail.subarray(overlap), head.length);
    return { name: basename(path), size, head: new Uint8Array(head), tail: new Uint8Array(tail), entropy: Math.round(shannonEntropy(sampled) * 1000) / 1000 };
  } finally {
    closeSync(fd);
  }
}

function mergeUnique(into: string[], from: readonly string[]): void {
  for (const v of from) if (!into.includes(v)) into.push(v);
}

/** Adds the contacts and addresses found in a text (a note, or with `fileName` a file name). */
export function addTextSignals(s: Signals, text: string, fileName = false): void {
  mergeUnique(s.emails, extractEmails(text, { fileName }));
  mergeUnique(s.onions, extractOnions(text));
  mergeUnique(s.btc, extractBtc(text));
  mergeUnique(s.xmr, extractXmr(text));
}

/**
 * Words of ransom notes, in the languages notes are commonly written in; a small text file with
 * two of them (or one and a note-like name) is taken as a note.
 */
const NOTE_WORDS: readonly RegExp[] = [
  /decrypt|déchiffr|dechiffr|entschlüssel|descifr|decript|расшифр|解密|復号/i,
  /bitcoin|\bbtc\b|monero|биткоин/i,
  /your files|vos fichiers|ihre dateien|sus archivos|tus archivos|i tuoi file|seus arquivos|ваши файлы|您的文件|你的文件/i,
  /encrypted|chiffrés|verschlüsselt|cifrados|crittografat|criptografad|зашифрован|加密/i,
  /restore|récupérer|wiederherstell|recuperar|ripristin|восстанов|恢复/i,
  /tor browser|torproject|\.onion\b/i,
];

export function noteKeywordHits(text: string): number {
  const t = text.slice(0, MAX_PROBE_BYTES);
  return NOTE_WORDS.filter((re) => re.test(t)).length;
}

const NOTE_NAME_HINT = /readme|read_me|read-me|decrypt|restore|recover|help|instruction|how_to|how-to|howto|files|ransom|unlock|important|attention|!!!/i;
const TEXTISH = new Set(['txt', 'html', 'htm', 'hta', 'rtf', 'url', 'inf', 'nfo', 'log', 'md', 'mht', '']);

export interface GatherOptions {
  notes?: string[];
  samples?: string[];
  dir?: string;
  /** The compiled knowledge base: recognises encrypted names and note names in `dir`. */
  index?: KbIndex;
  maxEntries?: number;
  maxDepth?: number;
}

/** Gathers the signals from the given files and directory; problems are reported, never thrown. */
export function gatherSignals(opts: GatherOptions): Gathered {
  const signals = emptySignals();
  const problems: Problem[] = [];
  const notes: NoteRead[] = [];
  for (const p of opts.notes ?? []) {
    try {
      const n = readNoteFile(p);
      notes.push(n);
      signals.notes.push({ name: n.name, text: n.text });
      addTextSignals(signals, n.text);
      if (n.binary) problems.push({ path: p, message: 'does not look like text; used what could be decoded' });
      if (n.truncated) problems.push({ path: p, message: `larger than ${MAX_NOTE_BYTES} bytes; only the first ${MAX_NOTE_BYTES} were read` });
    } catch (e) {
      problems.push({ path: p, message: `cannot read the note: ${errMessage(e)}` });
    }
  }
  for (const p of opts.samples ?? []) {
    try {
      const s = readSample(p);
      signals.samples.push(s);
      if (!signals.encryptedNames.includes(s.name)) signals.encryptedNames.push(s.name);
      addTextSignals(signals, s.name, true);
    } catch (e) {
      problems.push({ path: p, message: `cannot read the sample: ${errMessage(e)}` });
    }
  }
  let walk: WalkReport | undefined;
  if (opts.dir !== undefined) walk = walkDir(opts.dir, opts, signals, notes, problems);
  return walk ? { signals, problems, notes, walk } : { signals, problems, notes };
}

interface FileSeen {
  path: string;
  name: string;
  ext: string;
  kbMatch: boolean;
}

/**
 * True when a file name found while walking matches a knowledge-base pattern that says something:
 * not a broad one (`\.[a-z]{4,6}$`), and not a suffix that is an ordinary extension (TeslaCrypt's
 * `.mp3`, a Dharma variant's `.java`) unless the name has another extension before it
 * (`photo.jpg.mp3`).
 */
export function looksEncryptedByKb(index: KbIndex, name: string): boolean {
  return matchName(index, name, { random: false }).some((m) => {
    if (m.broad) return false;
    if (m.kind === 'suffix' && COMMON_EXTENSIONS.has(m.label.slice(1))) return finalExtension(name.slice(0, -m.label.length)) !== '';
    return true;
  });
}

function walkDir(root: string, opts: GatherOptions, signals: Signals, notes: NoteRead[], problems: Problem[]): WalkReport {
  const maxEntries = opts.maxEntries ?? MAX_WALK_ENTRIES;
  const maxDepth = opts.maxDepth ?? MAX_WALK_DEPTH;
  const report: WalkReport = { root, entries: 0, files: 0, dirs: 0, links: 0, capped: false, depthCapped: false, encrypted: 0, groups: [], notes: [] };
  const visited = new Set<string>();
  const queue: { path: string; depth: number }[] = [{ path: root, depth: 0 }];
  const files: FileSeen[] = [];
  const noteCandidates: { path: string; name: string; byName: boolean }[] = [];
  try {
    // The directory named by the user is followed if it is a link (as `find -H` does); no link
    // below it is.
    const st = statSync(root);
    if (!st.isDirectory()) {
      problems.push({ path: root, message: 'not a directory' });
      return report;
    }
  } catch (e) {
    problems.push({ path: root, message: `cannot read the directory: ${errMessage(e)}` });
    return report;
  }
  let head = 0;
  while (head < queue.length && !report.capped) {
    const { path, depth } = queue[head++] as { path: string; depth: number };
    let dir: Dir;
    try {
      const st = statSync(path, { bigint: true });
      const key = `${st.dev}:${st.ino}`;
      if (visited.has(key)) continue;
      visited.add(key);
      dir = opendirSync(path);
    } catch (e) {
      problems.push({ path, message: `cannot read the directory: ${errMessage(e)}` });
      continue;
    }
    report.dirs++;
    const subdirs: string[] = [];
    const here: { name: string; file: boolean }[] = [];
    try {
      for (;;) {
        const d = dir.readSync();
        if (!d) break;
        if (report.entries >= maxEntries) { report.capped = true; break; }
        report.entries++;
        if (d.isSymbolicLink()) { report.links++; continue; }
        if (d.isDirectory()) {
          if (depth + 1 > maxDepth) report.depthCapped = true;
          else subdirs.push(d.name);
        } else if (d.isFile()) here.push({ name: d.name, file: true });
      }
    } catch (e) {
      problems.push({ path, message: `error while listing: ${errMessage(e)}` });
    } finally {
      try { dir.closeSync(); } catch { /* already closed */ }
    }
    // Sorted, so the walk (and every cap) is the same on every run.
    here.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const h of here) {
      report.files++;
      const p = join(path, h.name);
      const ext = finalExtension(h.name);
      const byNoteName = opts.index ? matchNoteName(opts.index, h.name).length > 0 : false;
      const kbMatch = opts.index && !byNoteName ? looksEncryptedByKb(opts.index, h.name) : false;
      files.push({ path: p, name: h.name, ext, kbMatch });
      if (byNoteName || (TEXTISH.has(ext) && !kbMatch)) noteCandidates.push({ path: p, name: h.name, byName: byNoteName });
    }
    for (const s of subdirs.sort()) queue.push({ path: join(path, s), depth: depth + 1 });
  }
  if (head < queue.length && !report.capped) report.capped = true;

  // The encrypted-file extension: unknown, and shared by many files.
  const byExt = new Map<string, number>();
  for (const f of files) if (f.ext) byExt.set(f.ext, (byExt.get(f.ext) ?? 0) + 1);
  const threshold = Math.max(3, Math.ceil(files.length * 0.05));
  const groups = [...byExt].filter(([ext, n]) => n >= Math.min(threshold, 50) && !COMMON_EXTENSIONS.has(ext) && ext.length <= 32)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const groupSet = new Set(groups.map(([e]) => e));
  const namedNotes = new Set(noteCandidates.filter((n) => n.byName).map((n) => n.path));
  const encrypted = files.filter((f) => f.kbMatch || (groupSet.has(f.ext) && !namedNotes.has(f.path)));
  report.encrypted = encrypted.length;
  report.groups = groups.slice(0, 10).map(([extension, count]) => ({ extension: `.${extension}`, count, known: false }));
  const perGroup = new Map<string, number>();
  for (const f of encrypted) {
    const g = f.ext;
    const k = perGroup.get(g) ?? 0;
    if (k >= MAX_NAMES_PER_GROUP || signals.encryptedNames.length >= MAX_ENCRYPTED_NAMES) continue;
    perGroup.set(g, k + 1);
    if (!signals.encryptedNames.includes(f.name)) signals.encryptedNames.push(f.name);
    addTextSignals(signals, f.name, true);
  }

  // Notes: by known note name first, then small text files with note words.
  noteCandidates.sort((a, b) => Number(b.byName) - Number(a.byName) || Number(NOTE_NAME_HINT.test(b.name)) - Number(NOTE_NAME_HINT.test(a.name)) || (a.path < b.path ? -1 : 1));
  const seenNotes = new Set<string>();
  let probes = 0;
  for (const c of noteCandidates) {
    if (seenNotes.size >= MAX_DIR_NOTES || probes >= MAX_NOTE_PROBES) break;
    probes++;
    try {
      const st = lstatSync(c.path);
      if (!st.isFile() || (!c.byName && st.size > MAX_PROBE_BYTES)) continue;
      const n = readNoteFile(c.path);
      if (n.binary) continue;
      if (!c.byName && noteKeywordHits(n.text) < (NOTE_NAME_HINT.test(c.name) ? 1 : 2)) continue;
      if (report.notes.length < MAX_DIR_NOTES * 5) report.notes.push(c.path);
      // Copies of one note in every folder count once (same name and text).
      const key = `${n.name.toLowerCase()}\u0000${createHash('sha256').update(n.text).digest('hex')}`;
      if (seenNotes.has(key)) continue;
      seenNotes.add(key);
      notes.push(n);
      signals.notes.push({ name: n.name, text: n.text });
      addTextSignals(signals, n.text);
    } catch (e) {
      problems.push({ path: c.path, message: `cannot read a possible note: ${errMessage(e)}` });
    }
  }

  // A handful of samples, spread over the groups, the first files by path with some content.
  const picked: FileSeen[] = [];
  for (const f of encrypted) {
    if (picked.length >= MAX_SAMPLES) break;
    if (picked.some((p) => p.ext === f.ext) && picked.length < Math.min(groups.length, MAX_SAMPLES)) continue;
    picked.push(f);
  }
  for (const f of encrypted) {
    if (picked.length >= MAX_SAMPLES) break;
    if (!picked.includes(f)) picked.push(f);
  }
  for (const f of picked) {
    try {
      const s = readSample(f.path);
      if (s.size > 0) signals.samples.push(s);
    } catch (e) {
      problems.push({ path: f.path, message: `cannot read a sample: ${errMessage(e)}` });
    }
  }
  return report;
}
