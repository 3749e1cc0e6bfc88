/**
 * UDIF disk images (`.dmg`) made by code, for tests (no `hdiutil` here).
 *
 * In: the partitions (their bytes) and, per partition, the chunk types to cycle through and the
 * sectors per chunk. Out: an image as Apple's tools lay it out: the chunks' data from offset 0,
 * then the XML property list (`resource-fork` → `blkx` → one dict per partition with its `mish`
 * block in base64 under `Data`), then the 512-byte `koly` trailer pointing at both. Chunks all
 * zero are written as zero-fill chunks when `zeroFill` is set. bzip2 chunks use the `bzip2` tool
 * (undefined from `buildDmg` when it is missing); ADC chunks use the small encoder below; LZFSE
 * chunks hold stored bytes under the LZFSE type (a reader that skips the type sees a hole).
 */
import { execFileSync } from 'node:child_process';
import { deflateSync } from 'node:zlib';
import { STRIPE_ADC, STRIPE_BZIP2, STRIPE_COMMENT, STRIPE_END, STRIPE_LZFSE, STRIPE_STORED, STRIPE_ZEROES, STRIPE_ZLIB } from './dmg.js';

export type ChunkKind = 'raw' | 'zlib' | 'bzip2' | 'adc' | 'zero' | 'lzfse';

export interface DmgPartition {
  data: Uint8Array;
  /** Chunk types used in turn (default raw). */
  kinds?: ChunkKind[];
  /** Sectors per chunk (default 64). */
  chunkSectors?: number;
  /** Write all-zero chunks as zero-fill chunks (default true). */
  zeroFill?: boolean;
  name?: string;
}

export interface DmgOptions {
  /** Changes a chunk record after it is written (damaged images). */
  mutateStripe?: (stripe: DataView, index: number) => void;
  /** Lines of base64 per `data` element: the text's line length (default 52, as Apple writes it). */
  base64Line?: number;
  /** bzip2's block size level, 1 to 9 (default 9): 1 makes a block per 100 kB. */
  bzip2Level?: number;
  /** Rewrites the property list before it is stored (plist variants). */
  xmlTransform?: (xml: string) => string;
  /** Bytes before the first chunk's data (an unused area; chunk offsets follow it). */
  lead?: Uint8Array;
}

const be32 = (b: Uint8Array, p: number, v: number): void => { b[p] = (v >>> 24) & 0xff; b[p + 1] = (v >>> 16) & 0xff; b[p + 2] = (v >>> 8) & 0xff; b[p + 3] = v & 0xff; };
const be64 = (b: Uint8Array, p: number, v: number): void => { be32(b, p, Math.floor(v / 2 ** 32)); be32(b, p + 4, v >>> 0); };

/** Apple Data Compression, greedy: literal runs, 3-byte and long back-references. */
export function adcEncode(src: Uint8Array): Uint8Array {
  const out: number[] = [];
  const head = new Map<number, number>();
  let lit: number[] = [];
  const flush = (): void => {
    for (let i = 0; i < lit.length; i += 128) {
      const part = lit.slice(i, i + 128);
      out.push(0x80 | (part.length - 1), ...part);
    }
    lit = [];
  };
  let p = 0;
  while (p < src.length) {
    let bestLen = 0, bestDist = 0;
    if (p + 3 <= src.length) {
      const h = (src[p]! << 16) | (src[p + 1]! << 8) | src[p + 2]!;
      const cand = head.get(h);
      if (cand !== undefined && p - cand <= 65536) {
        let l = 0;
        while (p + l < src.length && l < 67 && src[cand + l] === src[p + l]) l++;
        bestLen = l;
        bestDist = p - cand;
      }
      head.set(h, p);
    }
    if (bestLen >= 4 || (bestLen === 3 && bestDist <= 1024)) {
      flush();
      if (bestLen <= 18 && bestDist <= 1024) {
        out.push(((bestLen - 3) << 2) | ((bestDist - 1) >> 8), (bestDist - 1) & 0xff);
      } else {
        out.push(0x40 | (bestLen - 4), ((bestDist - 1) >> 8) & 0xff, (bestDist - 1) & 0xff);
      }
      for (let i = 1; i < bestLen && p + i + 3 <= src.length; i++) head.set((src[p + i]! << 16) | (src[p + i + 1]! << 8) | src[p + i + 2]!, p + i);
      p += bestLen;
    } else {
      lit.push(src[p++]!);
    }
  }
  flush();
  return Uint8Array.from(out);
}

function bzip2(data: Uint8Array, level: number): Uint8Array | undefined {
  try {
    return new Uint8Array(execFileSync('bzip2', ['-c', `-${level}`], { input: data, maxBuffer: 1 << 28 }));
  } catch {
    return undefined;
  }
}

const TYPE: Record<ChunkKind, number> = { raw: STRIPE_STORED, zlib: STRIPE_ZLIB, bzip2: STRIPE_BZIP2, adc: STRIPE_ADC, zero: STRIPE_ZEROES, lzfse: STRIPE_LZFSE };

function wrap(s: string, n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < s.length; i += n) lines.push('\t\t\t\t' + s.slice(i, i + n));
  return lines.join('\n');
}

export function buildDmg(partitions: readonly DmgPartition[], opts: DmgOptions = {}): Uint8Array | undefined {
  const blobs: Uint8Array[] = opts.lead ? [opts.lead] : [];
  let offset = opts.lead?.length ?? 0;
  let sector = 0;
  const dicts: string[] = [];
  partitions.forEach((part, pi) => {
    const cs = part.chunkSectors ?? 64;
    const kinds = part.kinds ?? ['raw'];
    const sectors = Math.ceil(part.data.length / 512);
    const padded = new Uint8Array(sectors * 512);
    padded.set(part.data);
    const stripes: number[][] = [];
    let ci = 0;
    for (let s = 0; s < sectors; s += cs, ci++) {
      const n = Math.min(cs, sectors - s);
      const raw = padded.subarray(s * 512, (s + n) * 512);
      let kind = kinds[ci % kinds.length]!;
      if ((part.zeroFill ?? true) && kind !== 'lzfse' && raw.every((x) => x === 0)) kind = 'zero';
      let body: Uint8Array | undefined;
      switch (kind) {
        case 'raw': case 'lzfse': body = raw; break;
        case 'zlib': body = deflateSync(raw); break;
        case 'bzip2': body = bzip2(raw, opts.bzip2Level ?? 9); break;
        case 'adc': body = adcEncode(raw); break;
        case 'zero': body = new Uint8Array(0); break;
      }
      if (!body) return;
      stripes.push([TYPE[kind], s, n, offset, body.length]);
      blobs.push(body);
      offset += body.length;
    }
    stripes.push([STRIPE_COMMENT, sectors, 0, offset, 0]);
    stripes.push([STRIPE_END, sectors, 0, offset, 0]);
    const mish = new Uint8Array(204 + 40 * stripes.length);
    be32(mish, 0, 0x6d697368);
    be32(mish, 4, 1);
    be64(mish, 8, sector);
    be64(mish, 16, sectors);
    be64(mish, 24, 0);
    be32(mish, 32, 2048);
    be32(mish, 36, pi);
    be32(mish, 200, stripes.length);
    stripes.forEach((st, i) => {
      const p = 204 + 40 * i;
      be32(mish, p, st[0]!);
      be64(mish, p + 8, st[1]!);
      be64(mish, p + 16, st[2]!);
      be64(mish, p + 24, st[3]!);
      be64(mish, p + 32, st[4]!);
      opts.mutateStripe?.(new DataView(mish.buffer, p, 40), i);
    });
    sector += sectors;
    const name = part.name ?? `disk image (Apple_HFS : ${pi})`;
    dicts.push(`\t\t\t<dict>
\t\t\t\t<key>Attributes</key>
\t\t\t\t<string>0x0050</string>
\t\t\t\t<key>CFName</key>
\t\t\t\t<string>${name}</string>
\t\t\t\t<key>Data</key>
\t\t\t\t<data>
${wrap(Buffer.from(mish).toString('base64'), opts.base64Line ?? 52)}
\t\t\t\t</data>
\t\t\t\t<key>ID</key>
\t\t\t\t<string>${pi - 1}</string>
\t\t\t\t<key>Name</key>
\t\t\t\t<string>${name}</string>
\t\t\t</dict>`);
  });
  if (dicts.length !== partitions.length) return undefined;
  const xmlText = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
\t<key>resource-fork</key>
\t<dict>
\t\t<key>blkx</key>
\t\t<array>
${dicts.join('\n')}
\t\t</array>
\t</dict>
</dict>
</plist>
`;
  const xml = Buffer.from(opts.xmlTransform ? opts.xmlTransform(xmlText) : xmlText, 'latin1');
  const koly = new Uint8Array(512);
  be32(koly, 0, 0x6b6f6c79);
  be32(koly, 4, 4);
  be32(koly, 8, 512);
  be32(koly, 12, 1);
  be64(koly, 24, 0);
  be64(koly, 32, offset);
  be32(koly, 56, 1);
  be32(koly, 60, 1);
  be64(koly, 216, offset);
  be64(koly, 224, xml.length);
  be32(koly, 488, 1);
  be64(koly, 492, sector);
  return Buffer.concat([...blobs, xml, koly]);
}
