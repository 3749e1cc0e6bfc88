/**
 * LHA / LZH archives → the files ClamAV scans inside them, read as ClamAV 1.4 reads them.
 *
 * In: the bytes of a CL_TYPE_LHA_LZH layer (the first header at offset 0). Out: the members in
 * archive order, named by their path (directory extension header + name), each decoded whole:
 * `-lh0-`, `-lz4-`, `-pm0-` (stored), `-lh1-` (adaptive Huffman, 4 KiB window), `-lh4-` `-lh5-`
 * (8 KiB window), `-lh6-` `-lh7-` (64 KiB ring), `-lzs-`, `-lz5-`. Directories (`-lhd-`) have no
 * content; `-lhx-`, `-pm1-`, `-pm2-` and unknown methods give nothing. Never throws.
 *
 * Why these rules: ClamAV 1.4 reads LHA in Rust with the `delharc` crate, and a scanner must see
 * what it sees. Headers of levels 0-3 are validated as it validates them: the level 0/1 byte sum,
 * the level 2/3 lengths, the CRC-16 of a "common" extension header, extension header sizes within
 * the compressed size (level 1). The first bad header means nothing is read; a later one ends the
 * archive. A member is scanned only when it decodes completely to its declared original size: a
 * member cut short, or whose Huffman tables are not exact codes, gives nothing (a wrong file CRC
 * does not matter), and the next header is read after its compressed size. A member whose declared
 * size is over the file-size limit is reported and skipped. Output is bounded by that size.
 */
import { BoundedOutput, type UnpackContext, type UnpackItem } from '../unpack.js';

/** Raised inside the reader for damage (delharc's errors); caught before anything leaves it. */
class Damage extends Error {}

const CRC16 = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    t[i] = c;
  }
  return t;
})();

function crc16(crc: number, b: Uint8Array): number {
  for (let i = 0; i < b.length; i++) crc = (crc >>> 8) ^ CRC16[(crc ^ b[i]!) & 0xff]!;
  return crc;
}

interface Header {
  method: string;
  compSize: number;
  origSize: number;
  name: string;
  /** Where the member's data starts. */
  data: number;
}

const le16 = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8);
const le32 = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

/** Reads one header at `pos`: 'end' at the end mark (or the end of the data), a Damage when invalid. */
function readHeader(b: Uint8Array, pos: number): Header | 'end' {
  let p = pos;
  let len = 0; // bytes of the header read so far
  let sum = 0; // the level 0/1 byte sum
  let crc = 0;
  const take = (n: number, summed = true): Uint8Array => {
    if (p + n > b.length) throw new Damage('short header');
    const v = b.subarray(p, p + n);
    p += n;
    len += n;
    crc = crc16(crc, v);
    if (summed) for (let i = 0; i < v.length; i++) sum = (sum + v[i]!) & 0xff;
    return v;
  };
  if (p >= b.length || b[p] === 0) return 'end';
  const headerLen = take(1, false)[0]!;
  const csum = take(1, false)[0]!;
  const raw = take(19);
  const level = raw[18]!;
  if (level > 3) throw new Damage('level');
  const method = String.fromCharCode(...raw.subarray(0, 5));
  let compSize = le32(raw, 5);
  let origSize = le32(raw, 9);
  let filename: Uint8Array = new Uint8Array(0);
  if (level < 2) {
    const n = take(1)[0]!;
    if (headerLen < len + n) throw new Damage('size');
    filename = take(n);
  }
  take(2); // the file's CRC-16
  if (level > 0) take(1); // OS type
  if (level < 2) {
    let min = len;
    if (level === 0) min -= 2;
    if (headerLen < min) throw new Damage('size');
    let ext = headerLen - min;
    if (ext !== 0 && level === 0) { ext--; take(1); }
    if (ext !== 0) take(ext);
  }
  let longLen = 0, first = 0;
  if (level === 1) first = le16(take(2), 0);
  else if (level === 2) { longLen = headerLen | (csum << 8); first = le16(take(2), 0); }
  else if (level === 3) {
    longLen = le32(take(4), 0);
    first = le32(take(4), 0);
    if (headerLen !== 4 || csum !== 0) throw new Damage('level 3');
  }
  if (level < 2) {
    if (csum !== sum) throw new Damage('checksum');
  } else if (longLen < len + first) throw new Damage('size');
  const minExt = level === 3 ? 5 : 3;
  let extTotal = 0;
  let headerCrc: number | undefined;
  let dirName = '';
  let extName: string | undefined;
  for (let ext = first; ext !== 0;) {
    if (ext < minExt) throw new Damage('extension size');
    if (longLen !== 0) {
      if (longLen < len + ext - 2) throw new Damage('size');
    } else if (compSize < extTotal + ext) throw new Damage('size');
    if (p + ext > b.length) throw new Damage('short extension');
    const h = b.slice(p, p + ext);
    p += ext;
    extTotal += ext;
    const type = h[0]!;
    if (type === 0x00) {
      if (headerCrc !== undefined) throw new Damage('two CRCs');
      headerCrc = le16(h, 1);
      h[1] = 0;
      h[2] = 0;
    } else if (type === 0x42 && level >= 2 && ext - 1 >= 16) {
      compSize = le32(h, 1) + le32(h, 5) * 0x100000000;
      origSize = le32(h, 9) + le32(h, 13) * 0x100000000;
    } else if (type === 0x01) {
      extName = latin1(h.subarray(1, ext - (level === 3 ? 4 : 2)));
    } else if (type === 0x02) {
      dirName = pathText(h.subarray(1, ext - (level === 3 ? 4 : 2)));
    }
    len += ext;
    crc = crc16(crc, h);
    ext = level === 3 ? le32(h, ext - 4) : le16(h, ext - 2);
  }
  if (longLen !== 0 && longLen !== len) {
    if (level === 2 && longLen === len + 1) take(1);
    else if (level === 2 && longLen + 2 !== len) throw new Damage('header length');
  }
  if (headerCrc !== undefined && headerCrc !== crc) throw new Damage('header CRC');
  if (level === 1) {
    if (extTotal > compSize) throw new Damage('skip size');
    compSize -= extTotal;
  }
  const base = extName !== undefined && extName !== '' ? extName : pathText(filename);
  const name = dirName && !dirName.endsWith('/') ? `${dirName}/${base}` : dirName + base;
  return { method, compSize, origSize, name, data: p };
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

/** A stored path: `\` and 0xFF separate directories. */
function pathText(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    s += c === 0xff || c === 0x5c ? '/' : String.fromCharCode(c);
  }
  return s;
}

/** MSB-first bits over one member's data; running past its end is damage. */
export class Bits {
  private pos: number; // in bits
  private readonly end: number;
  constructor(private readonly b: Uint8Array, start: number, length: number) {
    this.pos = start * 8;
    this.end = Math.min(b.length, start + length) * 8;
  }
  read(n: number): number {
    if (n === 0) return 0;
    if (this.pos + n > this.end) throw new Damage('end of data');
    let v = 0;
    for (let i = 0; i < n; i++, this.pos++) v = v * 2 + ((this.b[this.pos >>> 3]! >>> (7 - (this.pos & 7))) & 1);
    return v;
  }
  bit(): number {
    if (this.pos >= this.end) throw new Damage('end of data');
    const v = (this.b[this.pos >>> 3]! >>> (7 - (this.pos & 7))) & 1;
    this.pos++;
    return v;
  }
}

const LEAF = 0x8000;
const MAX_INDEX = 0x7fff;

/** A Huffman tree as delharc builds it: entries are leaves (value | 0x8000) or branches (child index). */
class Tree {
  /** Room for the largest tree delharc accepts (indices up to 0x7fff, then the last leaves). */
  readonly nodes = new Uint16Array(MAX_INDEX + 1 + 512 + 2);
  size = 0;
  single(value: number): void {
    this.nodes[0] = (value | LEAF) & 0xffff;
    this.size = 1;
  }
  /** Level by level: leaves of each length in value order, then the remaining slots become branches. */
  build(lengths: Uint8Array): void {
    this.size = 0;
    const t = this.nodes;
    const cap = t.length;
    let size = 0;
    let allocated = 1;
    for (let depth = 1; ; depth++) {
      const limit = allocated;
      for (let i = size; i < limit; i++) {
        if (allocated > MAX_INDEX) throw new Damage('tree index');
        t[size++] = allocated;
        allocated += 2;
      }
      let more = false;
      for (let v = 0; v < lengths.length; v++) {
        const l = lengths[v]!;
        if (l === depth) {
          if (size >= cap) throw new Damage('too many leaves');
          t[size++] = v | LEAF;
        } else if (l > depth) more = true;
      }
      if (size > allocated) throw new Damage('too many leaves');
      if (!more) break;
    }
    if (size !== allocated) throw new Damage('missing leaves');
    this.size = size;
  }
  read(bits: Bits): number {
    if (this.size === 0) throw new Damage('no tree');
    let e = this.nodes[0]!;
    while (!(e & LEAF)) e = this.nodes[e + bits.bit()]!;
    return e & ~LEAF;
  }
}

/** `-lh4-` … `-lh7-`: blocks of Huffman-coded literals, lengths and offsets. */
function decodeLhV2(bits: Bits, out: BoundedOutput, size: number, ringBits: number, offsetCodes: number, offsetBits: number): void {
  const ringSize = 1 << ringBits, mask = ringSize - 1;
  const ring = new Uint8Array(ringSize).fill(0x20);
  let cursor = 0;
  // delharc keeps one tree for the code-length code and the offset code: the offset code of a
  // block replaces the code-length code, which the next block reads anew.
  const commands = new Tree(), offsets = new Tree();
  const temp = offsets;
  let remaining = 0;
  const codeLength = (): number => {
    let l = bits.read(3);
    if (l === 7) while (bits.bit()) if (++l > 255) throw new Damage('code length');
    return l;
  };
  const newBlock = (): void => {
    remaining = bits.read(16);
    // The code-length code.
    let n = bits.read(5);
    if (n === 0) temp.single(bits.read(5));
    else {
      if (n > 20) throw new Damage('temp table');
      const lens = new Uint8Array(n);
      for (let i = 0; i < Math.min(n, 3); i++) lens[i] = codeLength();
      const skip = bits.read(2);
      if (3 + skip > n) throw new Damage('temp table');
      for (let i = 3 + skip; i < n; i++) lens[i] = codeLength();
      temp.build(lens);
    }
    // The command (literal / length) code.
    n = bits.read(9);
    if (n === 0) commands.single(bits.read(9));
    else {
      if (n > 510) throw new Damage('command table');
      const lens = new Uint8Array(n);
      for (let i = 0; i < n;) {
        const c = temp.read(bits);
        if (c <= 2) i += c === 0 ? 1 : c === 1 ? bits.read(4) + 3 : bits.read(9) + 20;
        else lens[i++] = (c - 2) & 0xff;
      }
      commands.build(lens);
    }
    // The offset code.
    n = bits.read(offsetBits);
    if (n === 0) offsets.single(bits.read(offsetBits));
    else {
      if (n > offsetCodes) throw new Damage('offset table');
      const lens = new Uint8Array(n);
      for (let i = 0; i < n; i++) lens[i] = codeLength();
      offsets.build(lens);
    }
  };
  let done = 0;
  while (done < size) {
    while (remaining === 0) newBlock();
    remaining--;
    const cmd = commands.read(bits);
    if (cmd < 256) {
      if (!out.byte(cmd)) return;
      ring[cursor] = cmd;
      cursor = (cursor + 1) & mask;
      done++;
    } else {
      const count = cmd - 256 + 3;
      const code = offsets.read(bits);
      const offset = code <= 1 ? code : bits.read(code - 1) + 2 ** (code - 1);
      let at = cursor + ringSize - ((offset & mask) + 1);
      for (let k = 0; k < count && done < size; k++) {
        const c = ring[at & mask]!;
        at++;
        ring[cursor] = c;
        cursor = (cursor + 1) & mask;
        if (!out.byte(c)) return;
        done++;
      }
    }
  }
}

/** The adaptive Huffman code of `-lh1-` (LHarc 1.x): 314 symbols, rebuilt at a root frequency of 32768. */
export class DynamicHuffman {
  static readonly SYMBOLS = 314;
  static readonly NODES = 2 * 314 - 1;
  static readonly ROOT = 2 * 314 - 2;
  /** Frequency of each node (one extra guard entry). */
  readonly freq = new Uint16Array(DynamicHuffman.NODES + 1);
  /** Parent of each node; `parent[NODES + s]` is the node of symbol `s`. */
  readonly parent = new Uint16Array(DynamicHuffman.NODES + DynamicHuffman.SYMBOLS);
  /** Left child of each internal node (the right one follows it), or NODES + symbol for a leaf. */
  readonly child = new Uint16Array(DynamicHuffman.NODES);

  constructor() {
    const { SYMBOLS, NODES, ROOT } = DynamicHuffman;
    for (let i = 0; i < SYMBOLS; i++) {
      this.freq[i] = 1;
      this.child[i] = i + NODES;
      this.parent[i + NODES] = i;
    }
    for (let i = 0, j = SYMBOLS; j <= ROOT; i += 2, j++) {
      this.freq[j] = this.freq[i]! + this.freq[i + 1]!;
      this.child[j] = i;
      this.parent[i] = j;
      this.parent[i + 1] = j;
    }
    this.freq[NODES] = 0xffff;
    this.parent[ROOT] = 0;
  }

  /** Halves the frequencies and rebuilds the tree, keeping nodes ordered by frequency. */
  private rebuild(): void {
    const { SYMBOLS, NODES } = DynamicHuffman;
    const freq = this.freq, child = this.child;
    let j = 0;
    for (let i = 0; i < NODES; i++) {
      if (child[i]! >= NODES) {
        freq[j] = (freq[i]! + 1) >>> 1;
        child[j] = child[i]!;
        j++;
      }
    }
    for (let i = 0, n = SYMBOLS; n < NODES; i += 2, n++) {
      const f = freq[i]! + freq[i + 1]!;
      let k = n - 1;
      while (f < freq[k]!) k--;
      k++;
      freq.copyWithin(k + 1, k, n);
      freq[k] = f;
      child.copyWithin(k + 1, k, n);
      child[k] = i;
    }
    for (let i = 0; i < NODES; i++) {
      const k = child[i]!;
      if (k >= NODES) this.parent[k] = i;
      else { this.parent[k] = i; this.parent[k + 1] = i; }
    }
  }

  /** Counts one more `symbol`, moving its nodes up past nodes of lower frequency. */
  update(symbol: number): void {
    const { NODES, ROOT } = DynamicHuffman;
    const freq = this.freq, child = this.child, parent = this.parent;
    if (freq[ROOT] === 0x8000) this.rebuild();
    let c = parent[symbol + NODES]!;
    do {
      const k = ++freq[c]!;
      let l = c + 1;
      if (k > freq[l]!) {
        while (k > freq[++l]!);
        l--;
        freq[c] = freq[l]!;
        freq[l] = k;
        const i = child[c]!;
        parent[i] = l;
        if (i < NODES) parent[i + 1] = l;
        const j = child[l]!;
        child[l] = i;
        parent[j] = c;
        if (j < NODES) parent[j + 1] = c;
        child[c] = j;
        c = l;
      }
      c = parent[c]!;
    } while (c !== 0);
  }

  read(bits: Bits): number {
    const NODES = DynamicHuffman.NODES;
    let c = this.child[DynamicHuffman.ROOT]!;
    while (c < NODES) c = this.child[c + bits.bit()]!;
    c -= NODES;
    this.update(c);
    return c;
  }
}

/** The distance of an `-lh1-` match: 9 bits give its upper part and how many low bits follow. */
function lh1Offset(bits: Bits): number {
  const b = bits.read(9);
  if (b < 64) return b;
  if (b < 160) return ((b - 32) << 1) | bits.read(1);
  if (b < 288) return ((b - 96) << 2) | bits.read(2);
  if (b < 384) return ((b - 192) << 3) | bits.read(3);
  if (b < 480) return ((b - 288) << 4) | bits.read(4);
  return ((b - 384) << 5) | bits.read(5);
}

/** `-lh1-`: adaptive Huffman literals and lengths, 4 KiB window. */
function decodeLh1(bits: Bits, out: BoundedOutput, size: number): void {
  const ring = new Uint8Array(4096).fill(0x20);
  let cursor = 0;
  const tree = new DynamicHuffman();
  let done = 0;
  while (done < size) {
    const cmd = tree.read(bits);
    if (cmd < 256) {
      ring[cursor] = cmd;
      cursor = (cursor + 1) & 4095;
      if (!out.byte(cmd)) return;
      done++;
    } else {
      const count = cmd - 256 + 3;
      const offset = lh1Offset(bits);
      let at = cursor + 4096 - ((offset & 4095) + 1);
      for (let k = 0; k < count && done < size; k++) {
        const c = ring[at & 4095]!;
        at++;
        ring[cursor] = c;
        cursor = (cursor + 1) & 4095;
        if (!out.byte(c)) return;
        done++;
      }
    }
  }
}

/** `-lzs-`: LArc's 2 KiB sliding dictionary, one flag bit per item. */
function decodeLzs(bits: Bits, out: BoundedOutput, size: number): void {
  const ring = new Uint8Array(2048).fill(0x20);
  let cursor = 2048 - 17;
  let done = 0;
  while (done < size) {
    if (bits.bit()) {
      const c = bits.read(8);
      ring[cursor] = c;
      cursor = (cursor + 1) & 2047;
      if (!out.byte(c)) return;
      done++;
    } else {
      let pos = bits.read(11);
      const count = bits.read(4) + 2;
      for (let k = 0; k < count && done < size; k++) {
        const c = ring[pos & 2047]!;
        pos++;
        ring[cursor] = c;
        cursor = (cursor + 1) & 2047;
        if (!out.byte(c)) return;
        done++;
      }
    }
  }
}

/** The initial dictionary of `-lz5-`. */
function lz5Ring(): Uint8Array {
  const r = new Uint8Array(4096).fill(0x20);
  let c = 0;
  for (let i = 0; i < 256; i++) for (let k = 0; k < 13; k++) r[c++] = i;
  for (let i = 0; i < 256; i++) r[c++] = i;
  for (let i = 255; i >= 0; i--) r[c++] = i;
  for (let i = 0; i < 128; i++) r[c++] = 0;
  for (c = 4096 - 18; c < 4096; c++) r[c] = 0;
  return r;
}

/** `-lz5-`: LArc's 4 KiB dictionary, eight flags per byte. */
function decodeLz5(b: Uint8Array, start: number, length: number, out: BoundedOutput, size: number): void {
  const ring = lz5Ring();
  let cursor = 4096 - 18;
  const end = Math.min(b.length, start + length);
  let p = start;
  let flags = 1;
  let done = 0;
  const next = (): number => {
    if (p >= end) throw new Damage('end of data');
    return b[p++]!;
  };
  while (done < size) {
    if (flags === 1) flags = next() | 0x100;
    if (flags & 1) {
      const c = next();
      ring[cursor] = c;
      cursor = (cursor + 1) & 4095;
      if (!out.byte(c)) return;
      done++;
    } else {
      const lo = next(), hi = next();
      let pos = ((hi & 0xf0) << 4) | lo;
      const count = (hi & 0x0f) + 3;
      for (let k = 0; k < count && done < size; k++) {
        const c = ring[pos & 4095]!;
        pos++;
        ring[cursor] = c;
        cursor = (cursor + 1) & 4095;
        if (!out.byte(c)) return;
        done++;
      }
    }
    flags >>>= 1;
  }
}

/** Decodes one member: its bytes, or undefined when delharc would fail or does not decode the method. */
function decodeMember(b: Uint8Array, h: Header): Uint8Array | undefined {
  const size = h.origSize;
  const out = new BoundedOutput(size, Math.min(size, 1 << 20));
  switch (h.method) {
    case '-lh0-': case '-lz4-': case '-pm0-': {
      if (h.compSize < size || h.data + size > b.length) return undefined;
      return b.subarray(h.data, h.data + size);
    }
    case '-lh4-': case '-lh5-':
      decodeLhV2(new Bits(b, h.data, h.compSize), out, size, 13, 14, 4);
      break;
    case '-lh6-': case '-lh7-':
      decodeLhV2(new Bits(b, h.data, h.compSize), out, size, 16, 17, 5);
      break;
    case '-lh1-':
      decodeLh1(new Bits(b, h.data, h.compSize), out, size);
      break;
    case '-lzs-':
      decodeLzs(new Bits(b, h.data, h.compSize), out, size);
      break;
    case '-lz5-':
      decodeLz5(b, h.data, h.compSize, out, size);
      break;
    default:
      return undefined;
  }
  return out.length === size ? out.view() : undefined;
}

/** The members of an LHA archive, lazily. */
export function* lhaMembers(bytes: Uint8Array, ctx: UnpackContext): Generator<UnpackItem> {
  let pos = 0;
  const max = ctx.limits.maxFileSize;
  for (;;) {
    let h: Header | 'end';
    try {
      h = readHeader(bytes, pos);
    } catch {
      return; // damage (or an allocation refused): the archive ends here
    }
    if (h === 'end') return;
    pos = h.data + h.compSize;
    if (h.method === '-lhd-') continue;
    if (max > 0 && h.origSize > max) {
      yield { name: h.name, limit: 'MaxFileSize', size: h.origSize };
      continue;
    }
    if (h.origSize === 0) continue;
    let data: Uint8Array | undefined;
    try {
      data = decodeMember(bytes, h);
    } catch {
      data = undefined;
    }
    if (data) yield { name: h.name, data };
    if (pos >= bytes.length) return;
  }
}
