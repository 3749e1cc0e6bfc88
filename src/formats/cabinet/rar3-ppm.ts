/**
 * The PPMd (variant H) model and RAR range decoder the RAR 2.9 decoder uses for its PPMd blocks.
 *
 * In: a model size in bytes and maximum order; the packed bytes and the offset where the range
 * coder's data starts. Out: decoded symbols (0..255; -1 end of data; -2 damage). Why separate:
 * the model lives in the PPMd module; this adapter is the only place that depends on it.
 */
import { createRarRangeDecoder, Ppmd7, type PpmdRangeDecoder } from '../compress/ppmd7.js';

export type PpmRangeDecoder = PpmdRangeDecoder & {
  /** Offset of the next byte the range decoder will read. */
  readonly pos: number;
  /** Set once a byte past the end of the input was read (as zero). */
  readonly extra: boolean;
};

export interface PpmModel {
  /** Re-sizes the model's memory (kept when the size is unchanged); false when refused. */
  alloc(memSize: number): boolean;
  init(maxOrder: number): void;
  decodeSymbol(rc: PpmRangeDecoder): number;
}

export interface PpmSupport {
  /** A model of `memSize` bytes, reusing `previous`'s memory when it can. */
  model(memSize: number, previous: PpmModel | null): PpmModel | null;
  rangeDecoder(input: Uint8Array, offset: number): PpmRangeDecoder;
}

const SUPPORT: PpmSupport = {
  model(memSize: number, previous: PpmModel | null): PpmModel | null {
    if (previous) return previous.alloc(memSize) ? previous : null;
    const m = new Ppmd7(memSize);
    return m.ok ? m : null;
  },
  rangeDecoder(input: Uint8Array, offset: number): PpmRangeDecoder {
    return createRarRangeDecoder(input, offset);
  },
};

/** The PPMd implementation (null would make PPMd blocks end the entry). */
export function createPpmSupport(): PpmSupport | null {
  return SUPPORT;
}
