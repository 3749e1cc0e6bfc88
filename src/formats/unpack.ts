/**
 * The shape every container reader gives the engine: child layers, limits met and heuristic alerts.
 *
 * In: the bytes of one layer typed as a container (`CL_TYPE_*`), and the limits of the scan. Out:
 * an iterable of items, produced lazily so that the engine can stop at the first detection without
 * extracting the rest:
 * - a child layer (`{ name, data }`), scanned by the engine as a file of its own (typed again,
 *   opened again when it is a container), unless `type` says what ClamAV scans it as;
 * - a child a limit stopped (`{ name, limit }`): not scanned, reported as `not-scanned: <limit>`
 *   and, with `--alert-exceeds-max`, alerted as `Heuristics.Limits.Exceeded.<limit>`;
 * - a heuristic alert (`{ alert }`), such as `Heuristics.Encrypted.Zip`.
 *
 * Readers never throw on bad input: damage ends the listing where ClamAV's reader would stop.
 * Every decompressor writes at most `limits.maxFileSize` bytes of one child (a bomb is cut there).
 */
import type { ClType } from './cltypes.js';

export interface UnpackLimits {
  /** A child larger than this is not extracted (ClamAV MaxFileSize); decompression stops here. */
  maxFileSize: number;
  /** Children per top-level file (ClamAV MaxFiles); 0 for no limit. The engine counts them too. */
  maxFiles: number;
  /** Bytes of all layers of a top-level file (ClamAV MaxScanSize); 0 for no limit. */
  maxScanSize: number;
  /** Container nesting (ClamAV MaxRecursion); readers that recurse inside one layer (OLE2 storages) use it. */
  maxRecursion?: number;
}

export interface UnpackOptions {
  /** ClamAV's HeuristicAlerts (default on): e.g. `Heuristics.Zip.OverlappingFiles`. */
  heuristicAlerts: boolean;
  /** AlertEncryptedArchive (default off): `Heuristics.Encrypted.Zip`, `.RAR`, `.7Zip`. */
  alertEncryptedArchive: boolean;
  /** AlertEncryptedDoc (default off): `Heuristics.Encrypted.PDF`. */
  alertEncryptedDoc: boolean;
  /** AlertOLE2Macros (default off): `Heuristics.OLE2.ContainsMacros.VBA`. */
  alertMacros: boolean;
  /** AlertBrokenMedia (default off): the image structure checks, `Heuristics.Broken.Media.*`. */
  alertBrokenMedia?: boolean;
  /** AlertExceedsMax (default off): readers with limits of their own (mail's Email* limits) alert them. */
  alertExceedsMax?: boolean;
  /** AlertPartitionIntersection (default off): `Heuristics.MBRPartitionnIntersect`, `.GPTPartitionIntersection`, `.APMPartitionIntersection`. */
  alertPartitionIntersection?: boolean;
  /** MaxPartitions (default 50): partitions of one disk image the partition-table readers look at. */
  maxPartitions?: number;
  /** MaxRecHWP3 (default 16): paragraph nesting the HWP 3 reader walks before it gives up on a document. */
  maxRecHwp3?: number;
}

export const DEFAULT_UNPACK_OPTIONS: Readonly<UnpackOptions> = Object.freeze({
  heuristicAlerts: true,
  alertEncryptedArchive: false,
  alertEncryptedDoc: false,
  alertMacros: false,
  alertBrokenMedia: false,
});

export interface UnpackContext {
  limits: UnpackLimits;
  options: UnpackOptions;
  /** Layers of the top-level file scanned so far (ClamAV's `scannedfiles`), live. */
  scannedFiles?: () => number;
  /** Bytes of the top-level file's layers scanned so far, itself included (ClamAV's `scansize`), live. */
  scannedSize?: () => number;
}

/** Names ClamAV gives its limits (`Heuristics.Limits.Exceeded.<name>`). */
export type LimitName = 'MaxFileSize' | 'MaxScanSize' | 'MaxFiles' | 'MaxRecursion' | 'MaxScanTime' | 'MaxEmbeddedPE';

export interface ChildLayer {
  /** The member's name as stored (path separators kept), or a made-up one such as `gzip` or `zip@120`. */
  name: string;
  data: Uint8Array;
  /**
   * Set when ClamAV scans this child as a plain buffer of a type its container decides (VBA code as
   * CL_TYPE_SCRIPT, legacy macro code as CL_TYPE_MSOLE2): one raw pass with that type's signatures
   * and the generic ones, nothing opened. Without it the child is typed from its bytes and scanned
   * as a file of its own.
   */
  type?: ClType;
}

export interface LimitedChild {
  name: string;
  limit: LimitName;
  /** The child's size as declared, when known. */
  size?: number;
}

export interface HeuristicAlert {
  /** The detection name, e.g. `Heuristics.Zip.OverlappingFiles`. */
  alert: string;
  /** Where in the layer the reason for it was seen, when there is one place. */
  offset?: number;
}

/**
 * A member's metadata reported apart from its extraction, where ClamAV reports it apart (`cli_matchmeta`
 * while listing a ZIP's central directory): shown in clamscan's `-a` chain. Readers of containers
 * whose members ClamAV reports as it extracts them need not yield these (the engine does it).
 */
export interface MetaReport {
  meta: string;
  /** What ClamAV passes with the name, for `.cdb` signatures: the member's stored and real sizes,
   * its encryption flag, its 1-based position and its CRC-32 (ZIP, RAR). */
  compressedSize?: number;
  size?: number;
  encrypted?: boolean;
  position?: number;
  crc?: number;
}

export type UnpackItem = ChildLayer | LimitedChild | HeuristicAlert | MetaReport;

/** A reader of one container type: the layer's bytes → its items, lazily. */
export type Unpacker = (bytes: Uint8Array, ctx: UnpackContext) => Iterable<UnpackItem>;

/**
 * A reader of a container found inside another layer (self-extractors, installers appended to a
 * PE, a PDF inside a file): `offset` is where the embedded type's magic was found.
 */
export type EmbeddedUnpacker = (bytes: Uint8Array, offset: number, ctx: UnpackContext) => Iterable<UnpackItem>;

/** What a family of readers contributes: readers by the `CL_TYPE_*` they open. */
export interface UnpackerFamily {
  /** Readers of layers typed as these types. */
  containers: Partial<Record<ClType, Unpacker>>;
  /** Readers of these types found at an offset inside another layer during its raw scan. */
  embedded?: Partial<Record<ClType, EmbeddedUnpacker>>;
}

/**
 * What the engine passes back to a reader's `next()` after a child a scan limit refused (MaxScanSize,
 * MaxFiles, MaxRecursion). Readers whose ClamAV counterpart stops at such a child (unzip) stop too;
 * the others ignore it.
 */
export const CHILD_REFUSED = 'refused';

export const isChild = (i: UnpackItem): i is ChildLayer => 'data' in i;
export const isLimited = (i: UnpackItem): i is LimitedChild => 'limit' in i;
export const isAlert = (i: UnpackItem): i is HeuristicAlert => 'alert' in i;
export const isMeta = (i: UnpackItem): i is MetaReport => 'meta' in i;

/** A growable output buffer that never holds more than `limit` bytes (decoders write into `buf` directly). */
export class Sink {
  buf: Uint8Array;
  length = 0;
  constructor(readonly limit: number, initial = 1 << 16) {
    this.buf = new Uint8Array(Math.max(16, Math.min(initial, Math.max(0, limit))));
  }
  /** Makes room for `n` more bytes; false when that would pass the limit (nothing changes then). */
  ensure(n: number): boolean {
    const need = this.length + n;
    if (need > this.limit) return false;
    if (need <= this.buf.length) return true;
    let size = this.buf.length;
    while (size < need) size *= 2;
    const next = new Uint8Array(Math.min(size, this.limit));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    return true;
  }
  /** Appends what fits of `src`; false when not all of it did. */
  write(src: Uint8Array): boolean {
    const n = Math.min(src.length, this.limit - this.length);
    if (n > 0 && this.ensure(n)) {
      this.buf.set(src.subarray(0, n), this.length);
      this.length += n;
    }
    return n === src.length;
  }
  /** The bytes written so far (a view, valid until the next write). */
  view(): Uint8Array { return this.buf.subarray(0, this.length); }
}

/**
 * A bounded output buffer for LZ77-style decompressors: bytes, runs and back-references, refused
 * past `limit` (the caller then stops and reports the child as limited).
 */
export class BoundedOutput extends Sink {
  /** Set once a write was refused because it would pass the limit. */
  overflowed = false;
  constructor(limit: number, initial = 64 * 1024) {
    super(limit, initial);
  }
  /** Appends one byte; false (and nothing written) when the limit is reached. */
  byte(b: number): boolean {
    if (this.length >= this.buf.length && !this.ensure(1)) { this.overflowed = true; return false; }
    this.buf[this.length++] = b;
    return true;
  }
  /** Appends bytes; writes what fits under the limit and returns false when not all did. */
  bytes(src: Uint8Array): boolean {
    if (this.write(src)) return true;
    this.overflowed = true;
    return false;
  }
  /** Copies `len` bytes from `dist` back (LZ77 match); false when the limit is reached or `dist` reaches before the start. */
  copy(dist: number, len: number): boolean {
    if (dist <= 0 || dist > this.length) return false;
    let ok = true;
    if (!this.ensure(len)) {
      len = this.limit - this.length;
      this.ensure(len);
      this.overflowed = true;
      ok = false;
    }
    const b = this.buf;
    let at = this.length;
    for (let i = 0; i < len; i++, at++) b[at] = b[at - dist]!;
    this.length = at;
    return ok;
  }
  /** Byte `dist` back from the end (1 = the last byte written). */
  back(dist: number): number { return this.buf[this.length - dist] ?? 0; }
}
