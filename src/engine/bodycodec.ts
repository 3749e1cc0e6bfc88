/**
 * Compact binary forms for the compiled body database: pattern nodes ⇄ bytes, and a small
 * writer/reader pair for the cache file's tables.
 *
 * In: pattern nodes (`signatures/clamav/types.ts`). Out: a few bytes per node. The compiled cache
 * stores every part this way and the engine decodes a part only when its atom first hits, so a
 * database of tens of thousands of signatures loads without building their syntax trees.
 *
 * node := 0x00 value mask nocase          one byte
 *       | 0x01 min max                    edge range (≤ 32 each)
 *       | 0x02 cls negated edge wide      (B)=0 (L)=1 (W)=2; edge 0 none, 1 left, 2 right
 *       | 0x03 negated u16:branches ( u16:count node* )*
 */
import type { PatternNode } from '../signatures/clamav/types.js';

export class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  length = 0;
  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  u8(v: number): void { this.ensure(1); this.buf[this.length++] = v & 0xff; }
  u16(v: number): void { this.ensure(2); this.buf[this.length++] = v & 0xff; this.buf[this.length++] = (v >>> 8) & 0xff; }
  u32(v: number): void { this.ensure(4); new DataView(this.buf.buffer).setUint32(this.length, v >>> 0, true); this.length += 4; }
  f64(v: number): void { this.ensure(8); new DataView(this.buf.buffer).setFloat64(this.length, v, true); this.length += 8; }
  bytes(b: Uint8Array): void { this.ensure(b.length); this.buf.set(b, this.length); this.length += b.length; }
  /** Length-prefixed byte block. */
  block(b: Uint8Array): void { this.u32(b.length); this.bytes(b); }
  str(s: string): void { this.block(Buffer.from(s, 'utf8')); }
  done(): Uint8Array { return this.buf.subarray(0, this.length); }
}

/** Bounds-checked reader; any read past the end throws `RangeError`, which callers turn into "damaged cache". */
export class ByteReaderStrict {
  private readonly view: DataView;
  pos = 0;
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  private need(n: number): void { if (this.pos + n > this.buf.length) throw new RangeError('truncated'); }
  u8(): number { this.need(1); return this.buf[this.pos++]!; }
  u16(): number { this.need(2); const v = this.view.getUint16(this.pos, true); this.pos += 2; return v; }
  u32(): number { this.need(4); const v = this.view.getUint32(this.pos, true); this.pos += 4; return v; }
  f64(): number { this.need(8); const v = this.view.getFloat64(this.pos, true); this.pos += 8; return v; }
  bytes(n: number): Uint8Array { this.need(n); const v = this.buf.subarray(this.pos, this.pos + n); this.pos += n; return v; }
  block(): Uint8Array { return this.bytes(this.u32()); }
  str(): string { const b = this.block(); return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8'); }
}

const CLS = ['B', 'L', 'W'] as const;

export function encodeNodes(nodes: readonly PatternNode[], w: ByteWriter): void {
  w.u16(nodes.length);
  for (const n of nodes) {
    switch (n.k) {
      case 'byte': w.u8(0); w.u8(n.value); w.u8(n.mask); w.u8(n.nocase ? 1 : 0); break;
      case 'skip': w.u8(1); w.u8(n.min); w.u8(n.max); break;
      case 'class': w.u8(2); w.u8(CLS.indexOf(n.cls)); w.u8(n.negated ? 1 : 0); w.u8(n.edge === 'left' ? 1 : n.edge === 'right' ? 2 : 0); w.u8(n.wide ? 1 : 0); break;
      case 'alt':
        w.u8(3); w.u8(n.negated ? 1 : 0); w.u16(n.branches.length);
        for (const b of n.branches) encodeNodes(b, w);
        break;
    }
  }
}

export function decodeNodes(r: ByteReaderStrict): PatternNode[] {
  const count = r.u16();
  const out: PatternNode[] = [];
  for (let i = 0; i < count; i++) {
    const tag = r.u8();
    if (tag === 0) {
      const value = r.u8(), mask = r.u8(), nocase = r.u8();
      out.push(nocase ? { k: 'byte', value, mask, nocase: true } : { k: 'byte', value, mask });
    } else if (tag === 1) {
      out.push({ k: 'skip', min: r.u8(), max: r.u8() });
    } else if (tag === 2) {
      const cls = CLS[r.u8()];
      if (!cls) throw new RangeError('bad class');
      const negated = r.u8() === 1;
      const edge = r.u8();
      const wide = r.u8() === 1;
      const node: PatternNode = { k: 'class', cls, negated };
      if (edge === 1) node.edge = 'left'; else if (edge === 2) node.edge = 'right';
      if (wide) node.wide = true;
      out.push(node);
    } else if (tag === 3) {
      const negated = r.u8() === 1;
      const nb = r.u16();
      const branches: PatternNode[][] = [];
      for (let b = 0; b < nb; b++) branches.push(decodeNodes(r));
      out.push({ k: 'alt', negated, branches });
    } else throw new RangeError(`bad node tag ${tag}`);
  }
  return out;
}
