/**
 * Builds OLE2 compound files, MS-OVBA compressed data and VBA projects, for the tests of the
 * office readers (no tool that writes them is installed here).
 *
 * In: streams by path (`Macros/VBA/Module1`), the major version (3: 512-byte sectors, 4: 4096),
 * and how to lay the sectors out (in order, or shuffled so that chains jump about). Out: the
 * file's bytes, following MS-CFB: header, FAT, DIFAT sectors once the FAT passes 109 sectors,
 * mini FAT and mini stream for streams under the cutoff, directory entries forming a binary
 * search tree per storage (all black, which is a valid red-black tree).
 */

export interface CfbStream {
  /** Storage path and stream name, `/`-separated. */
  path: string;
  data: Uint8Array;
}

export interface CfbOptions {
  /** 3 (512-byte sectors, the default) or 4 (4096-byte sectors). */
  version?: 3 | 4;
  /** Sector numbers in a random order (a seeded shuffle) instead of one after another. */
  shuffle?: () => number;
  /** Mini stream cutoff (4096 in every real file). */
  cutoff?: number;
  /** Storages created even when they hold no stream. */
  storages?: string[];
}

const ENDOFCHAIN = 0xfffffffe;
const FREESECT = 0xffffffff;
const FATSECT = 0xfffffffd;
const DIFSECT = 0xfffffffc;
const NOSTREAM = 0xffffffff;

interface Node {
  name: string;
  type: 1 | 2 | 5;
  data?: Uint8Array;
  children: Node[];
  id: number;
  left: number;
  right: number;
  child: number;
  start: number;
  size: number;
}

/** MS-CFB's order of names: shorter first, then by upper-case code units. */
function compareNames(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  const x = a.toUpperCase(), y = b.toUpperCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

export function buildCfb(streams: readonly CfbStream[], options: CfbOptions = {}): Uint8Array {
  const version = options.version ?? 3;
  const S = version === 4 ? 4096 : 512;
  const cutoff = options.cutoff ?? 4096;
  const perSector = S / 4;

  // The tree of storages and streams.
  const root: Node = { name: 'Root Entry', type: 5, children: [], id: 0, left: NOSTREAM, right: NOSTREAM, child: NOSTREAM, start: ENDOFCHAIN, size: 0 };
  const storageAt = (parts: string[]): Node => {
    let node = root;
    for (const part of parts) {
      let next = node.children.find((c) => c.name === part && c.type === 1);
      if (!next) {
        next = { name: part, type: 1, children: [], id: 0, left: NOSTREAM, right: NOSTREAM, child: NOSTREAM, start: 0, size: 0 };
        node.children.push(next);
      }
      node = next;
    }
    return node;
  };
  for (const s of options.storages ?? []) storageAt(s.split('/'));
  for (const s of streams) {
    const parts = s.path.split('/');
    const name = parts.pop()!;
    storageAt(parts).children.push({ name, type: 2, data: s.data, children: [], id: 0, left: NOSTREAM, right: NOSTREAM, child: NOSTREAM, start: ENDOFCHAIN, size: s.data.length });
  }
  const all: Node[] = [];
  const number = (n: Node): void => {
    n.id = all.length;
    all.push(n);
    n.children.sort((a, b) => compareNames(a.name, b.name));
    for (const c of n.children) number(c);
  };
  number(root);
  // Each storage's children as a balanced search tree.
  const tree = (list: Node[]): number => {
    if (list.length === 0) return NOSTREAM;
    const mid = list.length >> 1;
    const node = list[mid]!;
    node.left = tree(list.slice(0, mid));
    node.right = tree(list.slice(mid + 1));
    return node.id;
  };
  for (const n of all) if (n.type !== 2) n.child = tree(n.children);

  // Mini stream and mini FAT.
  const files = all.filter((n) => n.type === 2);
  const mini = files.filter((n) => n.size > 0 && n.size < cutoff);
  const big = files.filter((n) => n.size >= cutoff);
  const miniFat: number[] = [];
  const miniParts: Uint8Array[] = [];
  for (const n of mini) {
    const count = Math.ceil(n.size / 64);
    n.start = miniFat.length;
    for (let k = 0; k < count; k++) miniFat.push(k === count - 1 ? ENDOFCHAIN : miniFat.length + 1);
    const padded = new Uint8Array(count * 64);
    padded.set(n.data!);
    miniParts.push(padded);
  }
  const miniStream = Buffer.concat(miniParts);
  root.size = miniStream.length;

  const sectors = (bytes: number): number => Math.ceil(bytes / S);
  const dirSectors = sectors(all.length * 128);
  const miniFatSectors = sectors(miniFat.length * 4);
  const dataSectors = big.reduce((n, f) => n + sectors(f.size), 0) + sectors(miniStream.length) + miniFatSectors + dirSectors;
  let fatSectors = 1, difSectors = 0;
  for (;;) {
    difSectors = fatSectors > 109 ? Math.ceil((fatSectors - 109) / (perSector - 1)) : 0;
    if ((dataSectors + fatSectors + difSectors) <= fatSectors * perSector) break;
    fatSectors++;
  }
  const total = dataSectors + fatSectors + difSectors;
  const order = Array.from({ length: total }, (_, k) => k);
  if (options.shuffle) {
    for (let k = order.length - 1; k > 0; k--) {
      const j = Math.floor(options.shuffle() * (k + 1));
      [order[k], order[j]] = [order[j]!, order[k]!];
    }
  }
  let nextFree = 0;
  const take = (n: number): number[] => order.slice(nextFree, (nextFree += n));
  const fat = new Array<number>(fatSectors * perSector).fill(FREESECT);
  const content = new Map<number, Uint8Array>();
  const place = (data: Uint8Array): number => {
    const list = take(sectors(data.length));
    list.forEach((sec, k) => {
      fat[sec] = k === list.length - 1 ? ENDOFCHAIN : list[k + 1]!;
      content.set(sec, data.subarray(k * S, (k + 1) * S));
    });
    return list.length > 0 ? list[0]! : ENDOFCHAIN;
  };
  for (const f of big) f.start = place(f.data!);
  root.start = miniStream.length > 0 ? place(miniStream) : ENDOFCHAIN;
  const miniFatBytes = new Uint8Array(miniFatSectors * S).fill(0xff);
  const mfv = new DataView(miniFatBytes.buffer);
  miniFat.forEach((v, k) => mfv.setUint32(k * 4, v, true));
  const miniFatStart = miniFat.length > 0 ? place(miniFatBytes) : ENDOFCHAIN;

  const dir = new Uint8Array(dirSectors * S);
  const dv = new DataView(dir.buffer);
  for (let k = all.length; k < dirSectors * S / 128; k++) {
    dv.setUint32(k * 128 + 68, NOSTREAM, true);
    dv.setUint32(k * 128 + 72, NOSTREAM, true);
    dv.setUint32(k * 128 + 76, NOSTREAM, true);
  }
  for (const n of all) {
    const at = n.id * 128;
    const name = n.name.slice(0, 31);
    for (let k = 0; k < name.length; k++) dv.setUint16(at + k * 2, name.charCodeAt(k), true);
    dv.setUint16(at + 64, (name.length + 1) * 2, true);
    dir[at + 66] = n.type;
    dir[at + 67] = 1;
    dv.setUint32(at + 68, n.left, true);
    dv.setUint32(at + 72, n.right, true);
    dv.setUint32(at + 76, n.child, true);
    dv.setUint32(at + 116, n.type === 1 ? 0 : n.start, true);
    dv.setUint32(at + 120, n.type === 1 ? 0 : n.size, true);
  }
  const dirStart = place(dir);

  const fatList = take(fatSectors);
  for (const s of fatList) fat[s] = FATSECT;
  const difList = take(difSectors);
  for (const s of difList) fat[s] = DIFSECT;
  const fatBytes = new Uint8Array(fatSectors * S);
  const fv = new DataView(fatBytes.buffer);
  fat.forEach((v, k) => fv.setUint32(k * 4, v, true));
  fatList.forEach((sec, k) => content.set(sec, fatBytes.subarray(k * S, (k + 1) * S)));
  difList.forEach((sec, k) => {
    const d = new Uint8Array(S).fill(0xff);
    const v = new DataView(d.buffer);
    for (let j = 0; j < perSector - 1; j++) {
      const f = fatList[109 + k * (perSector - 1) + j];
      if (f !== undefined) v.setUint32(j * 4, f, true);
    }
    v.setUint32(S - 4, k + 1 < difList.length ? difList[k + 1]! : ENDOFCHAIN, true);
    content.set(sec, d);
  });

  const headerSize = S;
  const out = new Uint8Array(headerSize + total * S);
  const hv = new DataView(out.buffer);
  out.set([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);
  hv.setUint16(24, 0x3e, true);
  hv.setUint16(26, version, true);
  hv.setUint16(28, 0xfffe, true);
  hv.setUint16(30, version === 4 ? 12 : 9, true);
  hv.setUint16(32, 6, true);
  hv.setUint32(40, version === 4 ? dirSectors : 0, true);
  hv.setUint32(44, fatSectors, true);
  hv.setUint32(48, dirStart, true);
  hv.setUint32(56, cutoff, true);
  hv.setUint32(60, miniFatStart, true);
  hv.setUint32(64, miniFatSectors, true);
  hv.setUint32(68, difList.length > 0 ? difList[0]! : ENDOFCHAIN, true);
  hv.setUint32(72, difSectors, true);
  for (let k = 0; k < 109; k++) hv.setUint32(76 + k * 4, fatList[k] ?? FREESECT, true);
  for (const [sec, data] of content) out.set(data, headerSize + sec * S);
  return out;
}

/** MS-OVBA compression (2.4.1.3): a signature byte, then compressed chunks of 4096 bytes each. */
export function ovbaCompress(src: Uint8Array): Uint8Array {
  const out: number[] = [1];
  for (let chunkStart = 0; chunkStart < src.length; chunkStart += 4096) {
    const chunkEnd = Math.min(src.length, chunkStart + 4096);
    const body: number[] = [];
    let p = chunkStart;
    while (p < chunkEnd) {
      const flagAt = body.length;
      body.push(0);
      let flags = 0;
      for (let bit = 0; bit < 8 && p < chunkEnd; bit++) {
        const diff = p - chunkStart;
        let bitCount = 4;
        while ((1 << bitCount) < diff) bitCount++;
        const lengthMask = 0xffff >> bitCount;
        const maxLength = lengthMask + 3;
        let bestLen = 0, bestOff = 0;
        for (let c = p - 1; c >= chunkStart; c--) {
          let len = 0;
          while (len < maxLength && p + len < chunkEnd && src[c + len] === src[p + len]) len++;
          if (len > bestLen) { bestLen = len; bestOff = p - c; }
        }
        if (bestLen >= 3) {
          const token = ((bestOff - 1) << (16 - bitCount)) | (bestLen - 3);
          body.push(token & 0xff, token >> 8);
          flags |= 1 << bit;
          p += bestLen;
        } else {
          body.push(src[p]!);
          p++;
        }
      }
      body[flagAt] = flags;
    }
    const header = 0xb000 | (body.length + 2 - 3);
    out.push(header & 0xff, header >> 8);
    for (const x of body) out.push(x);
  }
  return Uint8Array.from(out);
}

export interface VbaModule {
  name: string;
  /** The module's source (code page 1252 text). */
  source: string;
  /** Bytes of performance cache before the compressed source (the module offset). */
  cacheSize?: number;
  /** Stream name when it differs from the module name. */
  streamName?: string;
}

const le16 = (n: number): number[] => [n & 0xff, (n >> 8) & 0xff];
const le32 = (n: number): number[] => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
const latin1 = (s: string): number[] => [...Buffer.from(s, 'latin1')];
const utf16 = (s: string): number[] => [...Buffer.from(s, 'utf16le')];
const rec = (id: number, data: number[]): number[] => [...le16(id), ...le32(data.length), ...data];

/** The decompressed `dir` stream of a project holding `modules` (MS-OVBA 2.3.4.2). */
export function vbaDirRecords(project: string, modules: readonly VbaModule[]): Uint8Array {
  const b: number[] = [
    ...rec(0x0001, le32(1)), ...rec(0x0002, le32(0x409)), ...rec(0x0014, le32(0x409)), ...rec(0x0003, le16(1252)),
    ...rec(0x0004, latin1(project)), ...rec(0x0005, latin1('')), ...rec(0x0040, utf16('')),
    ...rec(0x0006, latin1('')), ...rec(0x003d, latin1('')), ...rec(0x0007, le32(0)), ...rec(0x0008, le32(0)),
    ...le16(0x0009), ...le32(4), ...le32(1234), ...le16(5),
    ...rec(0x000c, latin1('')), ...rec(0x003c, utf16('')),
    ...rec(0x000f, le16(modules.length)), ...rec(0x0013, le16(0xffff)),
  ];
  for (const m of modules) {
    const stream = m.streamName ?? m.name;
    b.push(
      ...rec(0x0019, latin1(m.name)), ...rec(0x0047, utf16(m.name)),
      ...rec(0x001a, latin1(stream)), ...rec(0x0032, utf16(stream)),
      ...rec(0x001c, latin1('')), ...rec(0x0048, utf16('')),
      ...rec(0x0031, le32(m.cacheSize ?? 0)), ...rec(0x001e, le32(0)), ...rec(0x002c, le16(0xffff)),
      ...rec(0x0021, []), ...rec(0x002b, []),
    );
  }
  b.push(...le16(0x0010), ...le32(0));
  return Uint8Array.from(b);
}

/**
 * The streams of a VBA project under `prefix` (`Macros/` in Word, `_VBA_PROJECT_CUR/` in Excel,
 * empty in `vbaProject.bin`): `VBA/dir`, `VBA/_VBA_PROJECT` (the short form Office writes without
 * a cache, or with `legacy` the 97-2003 table), one stream per module, `PROJECT`.
 */
export function vbaProjectStreams(prefix: string, modules: readonly VbaModule[], junk: (n: number) => Uint8Array = (n) => new Uint8Array(n), legacy = false): CfbStream[] {
  const out: CfbStream[] = [
    { path: `${prefix}VBA/dir`, data: ovbaCompress(vbaDirRecords('VBAProject', modules)) },
    { path: `${prefix}VBA/_VBA_PROJECT`, data: legacy ? legacyVbaProjectStream(modules) : Uint8Array.of(0xcc, 0x61, 0xff, 0xff, 0x00, 0x00, 0x00) },
    { path: `${prefix}PROJECT`, data: Buffer.from(`ID="{00000000-0000-0000-0000-000000000000}"\r\n${modules.map((m) => `Module=${m.name}\r\n`).join('')}Name="VBAProject"\r\n`, 'latin1') },
  ];
  for (const m of modules) {
    const code = ovbaCompress(Buffer.from(m.source, 'latin1'));
    out.push({ path: `${prefix}VBA/${m.streamName ?? m.name}`, data: Buffer.concat([junk(m.cacheSize ?? 0), code]) });
  }
  return out;
}

/**
 * A `_VBA_PROJECT` stream in the Office 97-2003 layout ClamAV's older reader walks: the header,
 * one reference string, the Office "middle" marker, then the module table (name, source offset).
 */
export function legacyVbaProjectStream(modules: readonly VbaModule[]): Uint8Array {
  const ref = utf16('*\\G{000204EF-0000-0000-C000-000000000046}#4.0#9#C:\\VBE7.DLL#Visual Basic For Applications');
  const middle = [0x00, 0x00, 0xe1, 0x2e, 0x45, 0x0d, 0x8f, 0xe0, 0x1a, 0x10, 0x85, 0x2e, 0x02, 0x60, 0x8c, 0x4d, 0x0b, 0xb4, 0x00, 0x00];
  const b: number[] = [0xcc, 0x61, 0x5e, 0x00, 0x00, 0x01, ...new Array<number>(28).fill(0)];
  b.push(...le16(ref.length), ...ref, ...le16(0), ...new Array<number>(10).fill(0), ...middle);
  b.push(0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...new Array<number>(100).fill(0), ...le16(modules.length));
  for (const m of modules) {
    const name = utf16(m.streamName ?? m.name);
    b.push(...le16(name.length), ...name, ...le16(0), ...le16(0), ...new Array<number>(10).fill(0), ...le16(0), ...new Array<number>(5).fill(0), ...le32(m.cacheSize ?? 0), 0, 0);
  }
  return Uint8Array.from(b);
}

/** A Word 6 `WordDocument` stream whose macro table holds `macros`, each XOR-encoded with its key. */
export function word6Document(macros: readonly { code: Uint8Array; key: number }[]): Uint8Array {
  const tableAt = 0x200;
  const tableLen = 4 + macros.length * 24;
  let dataAt = tableAt + tableLen + 16;
  const out = new Uint8Array(dataAt + macros.reduce((n, m) => n + m.code.length, 0));
  const v = new DataView(out.buffer);
  v.setUint32(0x118, tableAt, true);
  v.setUint32(0x11c, tableLen, true);
  out[tableAt] = 0xff;
  out[tableAt + 1] = 0x01;
  v.setUint16(tableAt + 2, macros.length, true);
  macros.forEach((m, k) => {
    const at = tableAt + 4 + k * 24;
    out[at] = 1;
    out[at + 1] = m.key;
    v.setUint32(at + 12, m.code.length, true);
    v.setUint32(at + 20, dataAt, true);
    for (let j = 0; j < m.code.length; j++) out[dataAt + j] = m.code[j]! ^ m.key;
    dataAt += m.code.length;
  });
  return out;
}

/** A `PowerPoint Document` stream: a plain record, then each storage as a compressed (0x1011) record. */
export function pptDocument(storages: readonly Uint8Array[], deflate: (b: Uint8Array) => Uint8Array): Uint8Array {
  const parts: number[] = [0x0f, 0x00, 0xe8, 0x03, ...le32(8), ...new Array<number>(8).fill(0)];
  for (const s of storages) {
    const packed = deflate(s);
    parts.push(0x10, 0x00, 0x11, 0x10, ...le32(packed.length + 4), ...le32(s.length));
    for (const x of packed) parts.push(x);
  }
  return Uint8Array.from(parts);
}
