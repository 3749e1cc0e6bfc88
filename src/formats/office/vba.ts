/**
 * VBA projects inside OLE2 files → the text ClamAV scans for them.
 *
 * In: the streams of one OLE2 storage (`dir`, the module streams), already read out of the
 * compound file. Out: the project listing ClamAV 1.4 writes and scans as `CL_TYPE_SCRIPT` (a
 * `REM` header per record of the `dir` stream, then each module's source, converted to UTF-8 and
 * normalised), or nothing when ClamAV gives up on the `dir` stream.
 *
 * Why by hand, and why not MS-OVBA as written: ClamAV's decompressor is its own. It reads the
 * stream as one run of flag bytes and tokens through a 4 KiB ring, ignores chunk sizes and the
 * "raw chunk" flag, consumes a chunk header only when a literal falls at the start of a window,
 * and fails on a token cut by the end of the stream. A well-formed stream gives the same text as
 * MS-OVBA; damaged ones give what ClamAV gives. The listing's wording, the module name checks and
 * the normalisation (lower case outside strings, blanks folded, `_` line continuations joined)
 * are ClamAV's, so that signatures written for ClamAV's view match here. Never throws.
 */

const WINDOW = 4096;

/**
 * ClamAV's VBA decompression of `s` from `offset` (the signature byte and first chunk header are
 * skipped unread). Undefined when ClamAV's returns nothing: a token cut short, a chunk header
 * missing, or no byte produced. At most `cap` bytes are produced (the rest is dropped).
 */
export function clamVbaInflate(s: Uint8Array, offset: number, cap: number, work: { left: number } = { left: Infinity }): Uint8Array | undefined {
  const ring = new Uint8Array(WINDOW);
  const parts: Uint8Array[] = [];
  let total = 0;
  let p = offset + 3;
  let pos = 0;
  let clean = true;
  const flush = (n: number): void => {
    if (n === 0 || total >= cap) return;
    const take = Math.min(n, cap - total);
    parts.push(ring.slice(0, take));
    total += take;
  };
  outer: while (p < s.length) {
    const flag = s[p++]!;
    for (let mask = 1; mask < 0x100; mask <<= 1) {
      const winpos = pos % WINDOW;
      if (flag & mask) {
        if (p + 2 > s.length) return undefined;
        const token = s[p]! | (s[p + 1]! << 8);
        p += 2;
        const shift = 12 - (winpos > 0x10 ? 1 : 0) - (winpos > 0x20 ? 1 : 0) - (winpos > 0x40 ? 1 : 0) - (winpos > 0x80 ? 1 : 0)
          - (winpos > 0x100 ? 1 : 0) - (winpos > 0x200 ? 1 : 0) - (winpos > 0x400 ? 1 : 0) - (winpos > 0x800 ? 1 : 0);
        let len = (token & ((1 << shift) - 1)) + 3;
        const back = (token >>> shift) + 1;
        // Copies that run past the window without a flush cost work and give nothing: bounded.
        work.left -= len;
        if (work.left < 0 || pos > cap + WINDOW) break outer;
        while (len-- > 0) {
          ring[pos % WINDOW] = ring[(((pos - back) % WINDOW) + WINDOW) % WINDOW]!;
          pos++;
        }
      } else {
        if (pos !== 0 && winpos === 0 && clean) {
          if (p + 2 > s.length) return undefined;
          p += 2;
          flush(WINDOW);
          clean = false;
          if (total >= cap) break outer;
          break;
        }
        if (p < s.length) { ring[winpos] = s[p++]!; pos++; }
      }
      clean = true;
    }
  }
  flush(pos % WINDOW);
  if (total === 0) return undefined;
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) { out.set(part, at); at += part.length; }
  return out;
}

/** ClamAV's `vba_normalize`: lower case outside strings, runs of blanks as one, `_` continuations joined. In place; the new length. */
export function vbaNormalize(b: Uint8Array): number {
  const NORMAL = 0, IN_STRING = 1, UNDERSCORE = 2, UNDERSCORE_CR = 3, SPACE = 5;
  let state = NORMAL;
  let o = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    switch (c) {
      case 0x22: // "
        if (state === IN_STRING) state = NORMAL;
        else if (state === NORMAL || state === UNDERSCORE || state === SPACE) state = IN_STRING;
        b[o++] = c;
        break;
      case 0x5f: // _
        if (state === SPACE) state = UNDERSCORE;
        b[o++] = c;
        break;
      case 0x0d:
        if (state === UNDERSCORE) state = UNDERSCORE_CR;
        b[o++] = c;
        break;
      case 0x0a:
        if (state === UNDERSCORE) { o -= 1; state = SPACE; }
        else if (state === UNDERSCORE_CR) { o -= 2; state = SPACE; }
        else b[o++] = c;
        break;
      case 0x09:
      case 0x20:
        if (state !== SPACE) b[o++] = 0x20;
        if (state === NORMAL || state === UNDERSCORE) state = SPACE;
        break;
      default:
        if (state === NORMAL || state === UNDERSCORE || state === SPACE) {
          b[o++] = c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
          state = NORMAL;
        } else b[o++] = c;
    }
  }
  return o;
}

/** WHATWG labels for the code pages ClamAV's iconv table names (the common ones). */
const CODEPAGE_LABELS: ReadonlyMap<number, string> = new Map([
  [874, 'windows-874'], [932, 'shift_jis'], [936, 'gbk'], [949, 'euc-kr'], [950, 'big5'],
  [1250, 'windows-1250'], [1251, 'windows-1251'], [1253, 'windows-1253'], [1254, 'windows-1254'],
  [1255, 'windows-1255'], [1256, 'windows-1256'], [1257, 'windows-1257'], [1258, 'windows-1258'],
  [10000, 'macintosh'], [20866, 'koi8-r'], [21866, 'koi8-u'], [28592, 'iso-8859-2'], [28593, 'iso-8859-3'],
  [28594, 'iso-8859-4'], [28595, 'iso-8859-5'], [28596, 'iso-8859-6'], [28597, 'iso-8859-7'], [28598, 'iso-8859-8'],
  [28603, 'iso-8859-13'], [28605, 'iso-8859-15'], [51932, 'euc-jp'], [54936, 'gb18030'],
]);

/** Bytes glibc's CP1252 has no character for (iconv refuses them). */
const CP1252_HOLES = new Set([0x81, 0x8d, 0x8f, 0x90, 0x9d]);

const utf8 = new TextEncoder();

/**
 * ClamAV's `cli_codepage_to_utf8`: the bytes as UTF-8, or undefined where it fails (empty input,
 * an unknown code page, a byte the code page has no character for).
 */
export function codepageToUtf8(b: Uint8Array, codepage: number): Uint8Array | undefined {
  if (b.length === 0) return undefined;
  if (codepage === 20127 || codepage === 65001) {
    const out = new Uint8Array(b);
    const last = out.length - 1;
    if (codepage === 65001 && out[last]! & 0x80) {
      // An incomplete last character is blanked with NULs (the length stays).
      let start = last, count = 1;
      while (start !== 0 && (out[start]! & 0xc0) === 0x80) { start--; count++; }
      let bits = 0;
      while (bits < 8 && (out[start]! & (0x80 >> bits))) bits++;
      if (count !== bits) out.fill(0, start, start + count);
    }
    return out;
  }
  try {
    let text: string;
    if (codepage === 1200 || codepage === 1201) {
      if (b.length % 2) return undefined;
      text = new TextDecoder(codepage === 1200 ? 'utf-16le' : 'utf-16be', { fatal: true, ignoreBOM: true }).decode(b);
    } else if (codepage === 1252) {
      for (const c of b) if (CP1252_HOLES.has(c)) return undefined;
      text = new TextDecoder('windows-1252', { fatal: true }).decode(b);
    } else if (codepage === 28591) {
      text = Buffer.from(b).toString('latin1');
    } else {
      const label = CODEPAGE_LABELS.get(codepage);
      if (!label) return undefined;
      text = new TextDecoder(label, { fatal: true, ignoreBOM: true }).decode(b);
    }
    return utf8.encode(text);
  } catch {
    return undefined;
  }
}

/**
 * ClamAV's lower-case name of an OLE2 entry (`cli_ole2_get_property_name2`): printable ASCII
 * lowered, digits below 10 as `_N_`, anything else as three letters between underscores.
 * `raw` holds at least `size` bytes (UTF-16LE, the last two being the terminator); undefined for
 * an empty or over-long name.
 */
export function ole2LowerName(raw: Uint8Array, size: number): string | undefined {
  if ((raw[0] === 0 && raw[1] === 0) || size <= 0 || size > 128) return undefined;
  let out = '';
  for (let i = 0; i < size - 2; i += 2) {
    const lo = raw[i] ?? 0, hi = raw[i + 1] ?? 0;
    if (!(lo & 0x80) && lo >= 0x20 && lo < 0x7f && hi === 0) {
      out += String.fromCharCode(lo >= 0x41 && lo <= 0x5a ? lo + 0x20 : lo);
    } else if (lo < 10 && hi === 0) {
      out += '_' + String.fromCharCode(0x30 + lo) + '_';
    } else {
      // C's sign extension of the second byte decides the high half.
      const x = hi & 0x80 ? 0xff00 | hi : ((lo << 8) | hi) & 0xffff;
      out += '_' + String.fromCharCode(0x61 + (x & 0xf), 0x61 + ((x >> 4) & 0xf), 0x61 + ((x >> 8) & 0xf)) + '_';
    }
  }
  return out.length > 0 ? out : undefined;
}

/** A module stream of the storage that holds the `dir` stream, as ClamAV finds it by name. */
export type ModuleLookup = (lowerName: string) => readonly Uint8Array[];

/** Result of reading a `dir` stream: the listing to scan, or why ClamAV scans nothing. */
export type VbaDirResult = { text: Uint8Array } | { error: 'inflate' | 'format' | 'limit' };

class Out {
  parts: Uint8Array[] = [];
  length = 0;
  constructor(readonly cap: number) {}
  bytes(b: Uint8Array): boolean {
    this.parts.push(b);
    this.length += b.length;
    return this.length <= this.cap;
  }
  str(s: string): boolean { return this.bytes(Buffer.from(s, 'latin1')); }
  join(): Uint8Array { return Buffer.concat(this.parts, this.length); }
}

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');

/**
 * ClamAV's `cli_vba_readdir_new`: the `dir` stream decompressed and walked record by record,
 * each module's source found by its stream name in the same storage, decompressed from its
 * offset, converted and normalised. `cap` bounds every decompression and the listing.
 */
export function readVbaDir(dirStream: Uint8Array, modules: ModuleLookup, cap: number, work: { left: number } = { left: Infinity }): VbaDirResult {
  const data = clamVbaInflate(dirStream, 0, cap, work);
  if (!data) return { error: 'inflate' };
  const out = new Out(cap);
  let codepage = 28591;
  const fail: VbaDirResult = { error: 'format' };
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const u16 = (at: number): number => view.getUint16(at, true);
  const u32 = (at: number): number => view.getUint32(at, true);
  const n = data.length;
  const mbcs = (at: number, size: number): Uint8Array | undefined => size > 0 ? codepageToUtf8(data.subarray(at, at + size), codepage) : undefined;
  const wide = (at: number, size: number): Uint8Array | undefined => size > 0 ? codepageToUtf8(data.subarray(at, at + size), 1200) : undefined;
  const ERR = Buffer.from('<error decoding string>', 'latin1');
  const put = (size: number, conv: Uint8Array | undefined): void => { if (size > 0) out.bytes(conv ?? ERR); };
  const same = (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean => !a || !b || Buffer.compare(a, b) === 0;

  out.str('REM VBA project extracted from Microsoft Office document\n\n');
  let p = 0;
  while (p < n) {
    if (out.length > cap) return { error: 'limit' };
    if (2 > n - p) return fail;
    let id = u16(p); p += 2;
    if (4 > n - p) return fail;
    let size = u32(p); p += 4;
    if (size > n - p) return fail;
    switch (id) {
      case 0x0001: {
        if (size !== 4) return fail;
        const kind = u32(p); p += 4;
        const names = ['Windows 16 bit', 'Windows 32 bit', 'Macintosh', 'Windows 64 bit'];
        out.str(`REM PROJECTSYSKIND: ${names[kind] ?? `Unknown (0x${kind.toString(16)})`}\n`);
        break;
      }
      case 0x0002:
        if (size !== 4) return fail;
        out.str(`REM PROJECTLCID: 0x${hex(u32(p), 8)}\n`); p += 4;
        break;
      case 0x0014:
        if (size !== 4) return fail;
        out.str(`REM PROJECTLCIDINVOKE: 0x${hex(u32(p), 8)}\n`); p += 4;
        break;
      case 0x0003:
        if (size !== 2) return fail;
        codepage = u16(p); p += 2;
        out.str(`REM PROJECTCODEPAGE: 0x${hex(codepage, 4)}\n`);
        break;
      case 0x0004:
        if (size < 1 || size > 128) return fail;
        out.str('REM PROJECTNAME: '); put(size, mbcs(p, size)); p += size; out.str('\n');
        break;
      case 0x0005:
        if (size > 2000) return fail;
        out.str('REM PROJECTDOCSTRING: '); put(size, mbcs(p, size)); p += size; out.str('\n');
        break;
      case 0x0040:
        if (size % 2 !== 0) return fail;
        out.str('REM PROJECTDOCSTRINGUNICODE: '); put(size, wide(p, size)); p += size; out.str('\n');
        break;
      case 0x0006: {
        if (size > 260) return fail;
        const first = p;
        out.str('REM PROJECTHELPFILEPATH: '); put(size, mbcs(p, size)); p += size; out.str('\n');
        if (2 > n - p) return fail;
        if (u16(p) !== 0x003d) {
          out.str('REM WARNING: PROJECTHELPFILEPATH is not followed by PROJECTHELPFILEPATH2\n');
          continue;
        }
        p += 2;
        if (4 > n - p) return fail;
        const size2 = u32(p); p += 4;
        if (size2 > n - p || size2 > 260) return fail;
        if (size !== size2) out.str('REM WARNING: PROJECTHELPFILEPATH and PROJECTHELPFILEPATH2 record sizes differ\n');
        else if (Buffer.compare(data.subarray(first, first + size), data.subarray(p, p + size)) !== 0) out.str('REM WARNING: PROJECTHELPFILEPATH and PROJECTHELPFILEPATH2 contents differ\n');
        out.str('REM PROJECTHELPFILEPATH2: '); put(size2, wide(p, size2)); p += size2; out.str('\n');
        break;
      }
      case 0x0007:
        if (size !== 4) return fail;
        out.str(`REM PROJECTHELPCONTEXT: 0x${hex(u32(p), 4)}\n`); p += 4;
        break;
      case 0x0008:
        if (size !== 4) return fail;
        out.str(`REM PROJECTLIBFLAGS: 0x${hex(u32(p), 4)}\n`); p += 4;
        break;
      case 0x0009: {
        if (size !== 4) return fail;
        const major = u32(p); p += 4;
        if (2 > n - p) return fail;
        const minor = u16(p); p += 2;
        out.str(`REM PROJECTVERSION: ${major}.${minor}\n`);
        break;
      }
      case 0x000f:
        if (size !== 2) return fail;
        out.str(`REM PROJECTMODULES: ${u16(p)}\n`); p += 2;
        break;
      case 0x0013:
        if (size !== 2) return fail;
        out.str(`REM PROJECTCOOKIE: 0x${hex(u16(p), 4)}\n`); p += 2;
        break;
      case 0x0019: {
        // MODULENAME, then the records every module carries in a fixed order.
        out.str('\n\nREM MODULENAME: ');
        const name = mbcs(p, size); put(size, name); p += size;
        const record = (want: number, label: string | undefined): number | undefined => {
          if (6 > n - p) return undefined;
          if (u16(p) !== want) return undefined;
          p += 2;
          if (label !== undefined) out.str(label);
          const s = u32(p); p += 4;
          return s > n - p ? undefined : s;
        };
        // Each pair: the code page text and its UTF-16 twin.
        const pair = (wantA: number, labelA: string | undefined, wantB: number, labelB: string, warning: string, first?: Uint8Array): { at: number; size: number } | undefined => {
          let a = first;
          if (wantA !== 0) {
            const sa = record(wantA, labelA);
            if (sa === undefined) return undefined;
            a = mbcs(p, sa); put(sa, a); p += sa;
          }
          const sb = record(wantB, labelB);
          if (sb === undefined) return undefined;
          const at = p;
          const b = wide(p, sb); put(sb, b); p += sb;
          if (!same(a, b)) out.str(warning);
          return { at, size: sb };
        };
        if (!pair(0, undefined, 0x0047, '\nREM MODULENAMEUNICODE: ', '\nREM WARNING: MODULENAME and MODULENAMEUNICODE differ', name)) return fail;
        const streamName = pair(0x001a, '\nREM MODULESTREAMNAME: ', 0x0032, '\nREM MODULESTREAMNAMEUNICODE: ', '\nREM WARNING: MODULESTREAMNAME and MODULESTREAMNAMEUNICODE differ');
        if (!streamName) return fail;
        if (!pair(0x001c, '\nREM MODULEDOCSTRING: ', 0x0048, '\nREM MODULEDOCSTRINGUNICODE: ', '\nREM WARNING: MODULEDOCSTRING and MODULEDOCSTRINGUNICODE differ')) return fail;
        const fixed = (want: number, len: number): number | undefined => {
          if (6 > n - p) return undefined;
          if (u16(p) !== want) return undefined;
          p += 2;
          const s = u32(p); p += 4;
          if (s !== len || s > n - p) return undefined;
          const v = len === 4 ? u32(p) : u16(p);
          p += s;
          return v;
        };
        const moduleOffset = fixed(0x0031, 4);
        if (moduleOffset === undefined) return fail;
        out.str(`\nREM MODULEOFFSET: 0x${hex(moduleOffset, 8)}`);
        const help = fixed(0x001e, 4);
        if (help === undefined) return fail;
        out.str(`\nREM MODULEHELPCONTEXT: 0x${hex(help, 8)}`);
        const cookie = fixed(0x002c, 2);
        if (cookie === undefined) return fail;
        out.str(`\nREM MODULECOOKIE: 0x${hex(cookie, 4)}`);
        if (6 > n - p) return fail;
        id = u16(p);
        if (id !== 0x0021 && id !== 0x0022) return fail;
        p += 2;
        size = u32(p); p += 4;
        if (size !== 0) return fail;
        out.str(id === 0x21 ? '\nREM MODULETYPE: Procedural' : '\nREM MODULETYPE: Class');
        // Optional READONLY and PRIVATE, then the terminator.
        const empty = (label: string): boolean => {
          if (4 > n - p) return false;
          const s = u32(p); p += 4;
          if (s !== 0) return false;
          out.str(label);
          if (2 > n - p) return false;
          id = u16(p); p += 2;
          return true;
        };
        if (2 > n - p) return fail;
        id = u16(p); p += 2;
        if (id === 0x0025 && !empty('\nREM MODULEREADONLY')) return fail;
        if (id === 0x0028 && !empty('\nREM MODULEPRIVATE')) return fail;
        if (id !== 0x002b) return fail;
        if (4 > n - p) return fail;
        if (u32(p) !== 0) return fail;
        p += 4;
        out.str('\nREM ##################################################\n');
        // The name is read as an entry name of size + 2 bytes (the two after it included).
        const raw = new Uint8Array(streamName.size + 2);
        raw.set(data.subarray(streamName.at, Math.min(n, streamName.at + streamName.size + 2)));
        const lower = ole2LowerName(raw, streamName.size + 2);
        if (lower === undefined) return fail;
        for (const stream of modules(lower)) {
          const src = clamVbaInflate(stream, moduleOffset, cap, work);
          if (!src) continue;
          const text = codepageToUtf8(src, codepage);
          if (text) {
            const len = vbaNormalize(text);
            out.bytes(text.subarray(0, len));
          } else out.str('\n<Error decoding module data>\n');
          break;
        }
        break;
      }
      case 0x0010:
        return out.length > cap ? { error: 'limit' } : { text: out.join() };
      default:
        p += size;
    }
  }
  return out.length > cap ? { error: 'limit' } : { text: out.join() };
}
