/**
 * Text bytes → ClamAV's normalised text, the copy that target-7 and target-0 body signatures are
 * also matched against for text layers.
 *
 * In: the bytes of a text layer (ASCII, UTF-8 or UTF-16, any chunking). Out: normalised bytes,
 * either as one stream (`createTextNormaliser`, what `sigtool --ascii-normalise` writes) or as the
 * exact sequence of buffers ClamAV's scanner matches (`createScriptScanNormaliser`).
 *
 * The rule is a byte table, applied byte by byte with one bit of state:
 * - A-Z become a-z; other bytes 0x21-0x7f (DEL included) are copied;
 * - a run of HT, LF, VT, FF, CR and space becomes one space;
 * - every other byte is dropped: NUL and the other controls, and all of 0x80-0xff.
 * There is no decoding. UTF-16 text becomes ASCII only because its zero bytes are dropped (and a
 * non-Latin character leaves its two bytes behind when both are printable, e.g. U+4E2D gives
 * "-n"); UTF-8 loses every byte of every multi-byte character.
 *
 * ClamAV normalises in fixed buffers, and that shows in its output, so it is reproduced here:
 * - The "previous byte was whitespace" bit is cleared at every buffer boundary, so a whitespace
 *   run crossing a boundary yields two spaces. `sigtool` and the scanner's whole-file path use
 *   buffers of a fixed number of *input* bytes (131072 for sigtool; 131072 + maxpatlen for the
 *   scanner's whole-file path).
 * - The scanner's usual path (`createScriptScanNormaliser`) fills a buffer of 131072 + maxpatlen
 *   output bytes one 4096-byte input page at a time, and hands it to the matcher whenever the next
 *   page might not fit, keeping its last maxpatlen bytes (maxpatlen = the longest target-7
 *   pattern) at the start of the next buffer. Buffer offsets therefore advance by the full buffer
 *   length, overlap included; a match lying inside an overlap is found twice, and a target-0
 *   pattern longer than the overlap that straddles a boundary is never found.
 * - Layers larger than MaxScriptNormalize (20 MiB) are not normalised at all.
 */

/** ClamAV's scan buffer (`SCANBUFF`): normalisation buffers are this size plus an overlap. */
export const SCRIPT_BUFFER_SIZE = 131072;

/** Input bytes normalised per buffer by `sigtool --ascii-normalise` (`ASCII_FILE_BUFF_LENGTH`). */
export const SIGTOOL_BLOCK_SIZE = 131072;

/** Page size of ClamAV's file maps on Linux: the scanner feeds the normaliser this much at a time. */
export const NORMALISER_PAGE_SIZE = 4096;

/**
 * MaxScriptNormalize default (20 MiB): text layers larger than this get no normalised pass.
 * Belongs with the other scan limits in `core/limits.ts`.
 */
export const MAX_SCRIPT_NORMALIZE = 20 * 1024 * 1024;

/** True when ClamAV normalises a text layer of `size` bytes (the limit is inclusive). */
export function scriptNormalisationApplies(size: number, maxScriptNormalize: number = MAX_SCRIPT_NORMALIZE): boolean {
  return size <= maxScriptNormalize;
}

const COPY = 0;
const SKIP = 1;
const SPACE = 2;
const LOWER = 3;

/** What the normaliser does with each byte value. */
const ACTION: Uint8Array = (() => {
  const a = new Uint8Array(256).fill(SKIP);
  for (let c = 0x21; c <= 0x7f; c++) a[c] = COPY;
  for (let c = 0x41; c <= 0x5a; c++) a[c] = LOWER;
  for (const c of [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20]) a[c] = SPACE;
  return a;
})();

/** Normalises `src[from..to)` into `dst` at `at`; returns the new write position. */
function normaliseInto(src: Uint8Array, from: number, to: number, dst: Uint8Array, at: number, ws: { space: boolean }): number {
  let p = at;
  let space = ws.space;
  for (let i = from; i < to; i++) {
    const c = src[i]!;
    switch (ACTION[c]) {
      case SKIP:
        break;
      case SPACE:
        if (!space) dst[p++] = 0x20;
        space = true;
        break;
      case LOWER:
        dst[p++] = c + 32;
        space = false;
        break;
      default:
        dst[p++] = c;
        space = false;
    }
  }
  ws.space = space;
  return p;
}

export interface TextNormaliser {
  /** Normalises the next chunk; returns its normalised bytes (possibly empty). */
  push(chunk: Uint8Array): Uint8Array;
  /** Ends the stream; returns any remaining output (always empty: nothing is held back). */
  end(): Uint8Array;
}

export interface TextNormaliserOptions {
  /**
   * Input bytes per normalisation buffer; the whitespace state restarts at each boundary.
   * Default 131072 (`sigtool --ascii-normalise`); the scanner's whole-file path uses
   * 131072 + maxpatlen; Infinity gives the idealised stream.
   */
  blockSize?: number;
}

/**
 * The normaliser as one stream: output equals `sigtool --ascii-normalise` (for the default
 * block size) whatever the chunking of the input.
 */
export function createTextNormaliser(opts: TextNormaliserOptions = {}): TextNormaliser {
  const blockSize = opts.blockSize ?? SIGTOOL_BLOCK_SIZE;
  if (!(blockSize > 0)) throw new RangeError('blockSize must be positive');
  const ws = { space: false };
  let inBlock = 0;
  let ended = false;
  return {
    push(chunk: Uint8Array): Uint8Array {
      if (ended) throw new Error('push after end');
      const out = new Uint8Array(chunk.length);
      let p = 0;
      let i = 0;
      while (i < chunk.length) {
        if (inBlock === blockSize) {
          inBlock = 0;
          ws.space = false;
        }
        const take = Math.min(chunk.length - i, blockSize - inBlock);
        p = normaliseInto(chunk, i, i + take, out, p, ws);
        i += take;
        inBlock += take;
      }
      return out.subarray(0, p);
    },
    end(): Uint8Array {
      ended = true;
      return new Uint8Array(0);
    },
  };
}

/** Normalises a whole buffer (sigtool's output for the default block size). */
export function normaliseText(bytes: Uint8Array, opts: TextNormaliserOptions = {}): Uint8Array {
  return createTextNormaliser(opts).push(bytes);
}

/** One buffer the scanner matches: normalised bytes and the offset ClamAV gives their first byte. */
export interface NormalisedBlock {
  bytes: Uint8Array;
  offset: number;
}

export interface ScriptScanNormaliser {
  /** Feeds input; returns the buffers completed so far (usually none). */
  push(chunk: Uint8Array): NormalisedBlock[];
  /** Ends the input; returns the remaining buffers (at least one). */
  end(): NormalisedBlock[];
}

export interface ScriptScanOptions {
  /** Longest target-7 pattern (ClamAV's `maxpatlen` of the target-7 matcher; 0 when none). */
  maxPatLen: number;
  /** Default 131072. */
  bufferSize?: number;
  /** Default 4096. */
  pageSize?: number;
}

/**
 * The buffers ClamAV's scanner matches for a text layer when no target-7 signature has a
 * relative offset (`cli_scanscript`'s in-memory path). Input is taken in pages from the start of
 * the layer; before each page, if it might not fit, the buffer is emitted and restarted with its
 * last `maxPatLen` bytes. At the end the buffer is always emitted, so even an empty layer gives
 * one (empty) block.
 */
export function createScriptScanNormaliser(opts: ScriptScanOptions): ScriptScanNormaliser {
  const maxPatLen = opts.maxPatLen;
  const pageSize = opts.pageSize ?? NORMALISER_PAGE_SIZE;
  const capacity = (opts.bufferSize ?? SCRIPT_BUFFER_SIZE) + maxPatLen;
  if (!(maxPatLen >= 0) || !(pageSize > 0) || pageSize > capacity) throw new RangeError('bad normaliser sizes');
  const out = new Uint8Array(capacity);
  const ws = { space: false };
  const page = new Uint8Array(pageSize);
  let pageLen = 0;
  let outPos = 0;
  let offset = 0;
  let ended = false;

  const flush = (blocks: NormalisedBlock[]): void => {
    blocks.push({ bytes: out.slice(0, outPos), offset });
    offset += outPos;
    if (outPos > maxPatLen) out.copyWithin(0, outPos - maxPatLen, outPos);
    // When the buffer held no more than the overlap, ClamAV keeps whatever was already there.
    ws.space = false;
    outPos = maxPatLen;
  };
  const feedPage = (src: Uint8Array, from: number, len: number, blocks: NormalisedBlock[]): void => {
    if (outPos + len > capacity) flush(blocks);
    outPos = normaliseInto(src, from, from + len, out, outPos, ws);
  };

  return {
    push(chunk: Uint8Array): NormalisedBlock[] {
      if (ended) throw new Error('push after end');
      const blocks: NormalisedBlock[] = [];
      let i = 0;
      if (pageLen > 0) {
        const take = Math.min(pageSize - pageLen, chunk.length);
        page.set(chunk.subarray(0, take), pageLen);
        pageLen += take;
        i = take;
        if (pageLen < pageSize) return blocks;
        feedPage(page, 0, pageSize, blocks);
        pageLen = 0;
      }
      while (chunk.length - i >= pageSize) {
        feedPage(chunk, i, pageSize, blocks);
        i += pageSize;
      }
      page.set(chunk.subarray(i), 0);
      pageLen = chunk.length - i;
      return blocks;
    },
    end(): NormalisedBlock[] {
      if (ended) return [];
      ended = true;
      const blocks: NormalisedBlock[] = [];
      if (pageLen > 0) feedPage(page, 0, pageLen, blocks);
      pageLen = 0;
      flush(blocks);
      return blocks;
    },
  };
}

/** All scan buffers of a whole layer (see `createScriptScanNormaliser`). */
export function scriptScanBlocks(bytes: Uint8Array, maxPatLen: number): NormalisedBlock[] {
  const n = createScriptScanNormaliser({ maxPatLen });
  return [...n.push(bytes), ...n.end()];
}
