/**
 * What a file looks like from a few samples: its format by magic bytes and the Shannon entropy of
 * its head, middle and tail.
 *
 * In: a path (or bytes). Out: a `FileLook` {size, magic, entropy per region, sample sizes}, and
 * the judgements built on it: "high" (indistinguishable from random at this sample size), "low"
 * (structured content), "claims a compressed format and decodes as one".
 * Why: ransomware turns documents into bytes that look random and lose their format's signature.
 * Entropy alone cannot tell compression from encryption (ciphertext, brotli and zstd all sit at
 * ~8 bits/byte), so the detector uses it only as a *transition* of a known file (low before, high
 * now) or together with the loss of a magic; these helpers give it the facts cheaply: at most three
 * 4 KiB reads per file.
 */
import { open } from 'node:fs/promises';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { extname } from 'node:path';

/** Formats recognised by their leading bytes. */
export type Magic =
  | 'pdf' | 'zip' | 'ole2' | 'jpeg' | 'png' | 'gif' | 'bmp' | 'tiff' | 'webp' | 'riff' | 'mp3' | 'mp4'
  | 'gzip' | 'bzip2' | 'xz' | 'zstd' | '7z' | 'rar' | 'rtf' | 'ps' | 'elf' | 'pe' | 'sqlite'
  | 'ogg' | 'flac' | 'psd' | 'class' | 'wasm' | 'git-pack' | 'git-index' | 'git-idx';

const startsWith = (b: Uint8Array, sig: number[], at = 0): boolean => {
  if (b.length < at + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (b[at + i] !== sig[i]) return false;
  return true;
};
const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

/** The format announced by the first bytes of `head`, or null. */
export function sniffMagic(head: Uint8Array): Magic | null {
  if (startsWith(head, ascii('%PDF-'))) return 'pdf';
  // A PDF may carry up to 1 KiB of junk before its header (PDF 1.7 §7.5.2 tolerance of readers).
  if (head.length > 5 && Buffer.from(head.subarray(0, 1024)).includes('%PDF-')) return 'pdf';
  if (startsWith(head, [0x50, 0x4b, 0x03, 0x04]) || startsWith(head, [0x50, 0x4b, 0x05, 0x06]) || startsWith(head, [0x50, 0x4b, 0x07, 0x08])) return 'zip';
  if (startsWith(head, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])) return 'ole2';
  if (startsWith(head, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (startsWith(head, ascii('GIF87a')) || startsWith(head, ascii('GIF89a'))) return 'gif';
  if (startsWith(head, ascii('RIFF')) && startsWith(head, ascii('WEBP'), 8)) return 'webp';
  if (startsWith(head, ascii('RIFF'))) return 'riff';
  if (startsWith(head, [0x49, 0x49, 0x2a, 0x00]) || startsWith(head, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  if (startsWith(head, ascii('BM')) && head.length >= 14 && head[6] === 0 && head[7] === 0 && head[8] === 0 && head[9] === 0) return 'bmp';
  if (startsWith(head, ascii('ID3')) || (head.length > 1 && head[0] === 0xff && ((head[1] ?? 0) & 0xe0) === 0xe0 && ((head[1] ?? 0) & 0x06) !== 0)) return 'mp3';
  if (startsWith(head, ascii('ftyp'), 4)) return 'mp4';
  if (startsWith(head, [0x1f, 0x8b])) return 'gzip';
  if (startsWith(head, ascii('BZh')) && head[3] !== undefined && head[3] >= 0x31 && head[3] <= 0x39) return 'bzip2';
  if (startsWith(head, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return 'xz';
  if (startsWith(head, [0x28, 0xb5, 0x2f, 0xfd])) return 'zstd';
  if (startsWith(head, [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c])) return '7z';
  if (startsWith(head, ascii('Rar!\x1a\x07'))) return 'rar';
  if (startsWith(head, ascii('{\\rtf'))) return 'rtf';
  if (startsWith(head, ascii('%!PS'))) return 'ps';
  if (startsWith(head, [0x7f, 0x45, 0x4c, 0x46])) return 'elf';
  if (startsWith(head, ascii('MZ'))) return 'pe';
  if (startsWith(head, ascii('SQLite format 3\0'))) return 'sqlite';
  if (startsWith(head, ascii('OggS'))) return 'ogg';
  if (startsWith(head, ascii('fLaC'))) return 'flac';
  if (startsWith(head, ascii('8BPS'))) return 'psd';
  if (startsWith(head, [0xca, 0xfe, 0xba, 0xbe])) return 'class';
  if (startsWith(head, [0x00, 0x61, 0x73, 0x6d])) return 'wasm';
  if (startsWith(head, ascii('PACK'))) return 'git-pack';
  if (startsWith(head, ascii('DIRC'))) return 'git-index';
  if (startsWith(head, [0xff, 0x74, 0x4f, 0x63])) return 'git-idx';
  return null;
}

/** What content an extension promises, for the formats with a magic. */
const EXTENSION_MAGIC: Record<string, Magic[]> = {
  '.pdf': ['pdf'],
  '.docx': ['zip'], '.xlsx': ['zip'], '.pptx': ['zip'], '.docm': ['zip'], '.xlsm': ['zip'], '.odt': ['zip'],
  '.ods': ['zip'], '.odp': ['zip'], '.zip': ['zip'], '.jar': ['zip'], '.epub': ['zip'], '.apk': ['zip'],
  '.doc': ['ole2', 'rtf'], '.xls': ['ole2'], '.ppt': ['ole2'], '.msg': ['ole2'],
  '.jpg': ['jpeg'], '.jpeg': ['jpeg'], '.png': ['png'], '.gif': ['gif'], '.bmp': ['bmp'], '.tif': ['tiff'],
  '.tiff': ['tiff'], '.webp': ['webp'], '.wav': ['riff'], '.avi': ['riff'], '.mp3': ['mp3'], '.mp4': ['mp4'],
  '.mov': ['mp4'], '.m4a': ['mp4'], '.gz': ['gzip'], '.tgz': ['gzip'], '.bz2': ['bzip2'], '.xz': ['xz'],
  '.zst': ['zstd'], '.7z': ['7z'], '.rar': ['rar'], '.rtf': ['rtf'], '.ps': ['ps'], '.sqlite': ['sqlite'],
  '.db': ['sqlite'], '.ogg': ['ogg'], '.flac': ['flac'], '.psd': ['psd'],
};

/** Extensions of text formats: their content is structured (entropy well below 6 bits/byte). */
const TEXT_EXTENSIONS = new Set([
  '.txt', '.csv', '.tsv', '.md', '.rst', '.log', '.json', '.xml', '.html', '.htm', '.svg', '.yaml', '.yml',
  '.ini', '.cfg', '.conf', '.tex', '.eml', '.ics', '.vcf', '.sql', '.c', '.h', '.cpp', '.cs', '.java', '.js',
  '.ts', '.py', '.rb', '.go', '.rs', '.php', '.sh', '.css', '.srt',
]);

/** Extensions of compressed formats that have no magic, checked by decoding instead. */
const DECODE_EXTENSIONS = new Set(['.br', '.gz', '.tgz', '.z', '.zz', '.deflate']);

export function expectedMagic(path: string): Magic[] | undefined {
  return EXTENSION_MAGIC[extname(path).toLowerCase()];
}
export function isTextExtension(path: string): boolean {
  return TEXT_EXTENSIONS.has(extname(path).toLowerCase());
}

/** Shannon entropy (bits per byte) of `buf`. */
export function shannon(buf: Uint8Array): number {
  if (buf.length === 0) return 0;
  const counts = new Uint32Array(256);
  for (let i = 0; i < buf.length; i++) counts[buf[i]!]!++;
  let h = 0;
  const n = buf.length;
  for (let i = 0; i < 256; i++) {
    const c = counts[i]!;
    if (c > 0) {
      const p = c / n;
      h -= p * Math.log2(p);
    }
  }
  return h;
}

/**
 * The entropy above which a sample of `n` bytes is "as random as ciphertext": the expected
 * plug-in estimate for uniform bytes (log2 of the distinct values reachable, less the
 * Miller–Madow bias 255/(2n ln 2)), with a margin. 4 KiB: 7.80; 1 KiB: 7.52; 256 B: 6.65.
 */
export function highThreshold(n: number): number {
  if (n <= 0) return Infinity;
  const cap = Math.log2(Math.min(256, n));
  const expected = Math.min(cap, 8 - 255 / (2 * n * Math.LN2));
  const margin = n >= 4096 ? 0.15 : n >= 1024 ? 0.3 : 0.5;
  return Math.max(0, expected - margin);
}

/** Below this a sample is structured content (text, markup, uncompressed data): bits/byte. */
export const LOW_ENTROPY = 6.0;

/** Samples shorter than this say nothing about entropy. */
export const MIN_SAMPLE = 128;

export const SAMPLE_BYTES = 4096;

export interface FileLook {
  size: number;
  magic: Magic | null;
  /** Entropy of head, middle and tail samples (one value when the file fits in one sample). */
  entropy: number[];
  /** Bytes in each sample. */
  samples: number[];
}

/** Looks at bytes already in memory. */
export function lookAt(buf: Uint8Array): FileLook {
  const size = buf.length;
  const regions = sampleRegions(size);
  return {
    size,
    magic: sniffMagic(buf.subarray(0, Math.min(size, 1024))),
    entropy: regions.map(([at, n]) => shannon(buf.subarray(at, at + n))),
    samples: regions.map(([, n]) => n),
  };
}

function sampleRegions(size: number): [number, number][] {
  if (size <= 3 * SAMPLE_BYTES) return [[0, size]];
  return [
    [0, SAMPLE_BYTES],
    [Math.floor(size / 2 - SAMPLE_BYTES / 2), SAMPLE_BYTES],
    [size - SAMPLE_BYTES, SAMPLE_BYTES],
  ];
}

/**
 * Reads head, middle and tail of a regular file (never follows it if it is not one: the handle
 * is fstat'ed). Resolves null when the file is gone, unreadable, or not a regular file.
 */
export async function lookAtFile(path: string): Promise<FileLook | null> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return null;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return null;
    const size = st.size;
    const regions = sampleRegions(size);
    const entropy: number[] = [];
    const samples: number[] = [];
    let magic: Magic | null = null;
    for (const [i, [at, n]] of regions.entries()) {
      const buf = Buffer.alloc(n);
      const { bytesRead } = await fh.read(buf, 0, n, at);
      const got = buf.subarray(0, bytesRead);
      if (i === 0) magic = sniffMagic(got.subarray(0, 1024));
      entropy.push(shannon(got));
      samples.push(bytesRead);
    }
    return { size, magic, entropy, samples };
  } catch {
    return null;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** True when some sample is as random as ciphertext. */
export function isHigh(look: FileLook): boolean {
  return look.entropy.some((h, i) => (look.samples[i] ?? 0) >= MIN_SAMPLE && h >= highThreshold(look.samples[i] ?? 0));
}

/** True when every sample big enough to judge is structured content. */
export function isLow(look: FileLook): boolean {
  let judged = false;
  for (const [i, h] of look.entropy.entries()) {
    if ((look.samples[i] ?? 0) < MIN_SAMPLE) continue;
    judged = true;
    if (h >= LOW_ENTROPY) return false;
  }
  return judged;
}

/** Regions that went from structured to random between two looks at the same file. */
export function entropyRise(before: FileLook, now: FileLook): number[] {
  const out: number[] = [];
  if (before.entropy.length === now.entropy.length) {
    now.entropy.forEach((h, i) => {
      const n = now.samples[i] ?? 0;
      if (n >= MIN_SAMPLE && (before.samples[i] ?? 0) >= MIN_SAMPLE && (before.entropy[i] ?? 8) < LOW_ENTROPY && h >= highThreshold(n)) out.push(i);
    });
    return out;
  }
  if (isLow(before) && isHigh(now)) return [0];
  return out;
}

/**
 * For a file whose extension names a compressed format without a usable magic (brotli) or with a
 * weak one: does its head decode? Feeds up to 16 KiB to the matching decoder and reports whether
 * it produced output without an error. Ciphertext fails within a few bytes; a truncated but
 * valid stream does not.
 */
export async function decodesAsCompressed(path: string): Promise<boolean> {
  const ext = extname(path).toLowerCase();
  if (!DECODE_EXTENSIONS.has(ext)) return false;
  let head: Buffer;
  try {
    const fh = await open(path, 'r');
    try {
      head = Buffer.alloc(16384);
      const { bytesRead } = await fh.read(head, 0, head.length, 0);
      head = head.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch {
    return false;
  }
  if (head.length === 0) return false;
  const decoder = ext === '.br' ? createBrotliDecompress() : ext === '.gz' || ext === '.tgz' ? createGunzip() : createInflate();
  return new Promise<boolean>((resolve) => {
    let produced = 0;
    let done = false;
    const finish = (ok: boolean): void => {
      if (done) return;
      done = true;
      decoder.removeAllListeners('data');
      decoder.destroy();
      resolve(ok);
    };
    decoder.on('data', (d: Buffer) => { produced += d.length; });
    decoder.on('error', () => finish(false));
    decoder.on('end', () => finish(produced > 0));
    decoder.write(head, () => {
      // Give the decoder a turn to report an error on what it has; a valid prefix leaves it waiting.
      setImmediate(() => finish(produced > 0));
    });
  });
}

/** Lower-cased extension with its dot ('' when none). */
export function extOf(path: string): string {
  return extname(path).toLowerCase();
}
