/**
 * Logical signatures at scan time: `.ldb` → content subsignatures fed to the shared body matcher,
 * and, after a layer's pass, the target description block and the logical expression evaluated
 * from the recorded subsignature matches (reference §1.3: "evaluated after the whole layer").
 *
 * In: parsed `LdbSig`s; the list of body-signature inputs, to which this module appends one input
 * per content subsignature (tagged with its owner). Out: a `LogicalPort` for the scanner.
 */
import type { LdbSig, Range } from '../signatures/clamav/types.js';
import { applyModifiers } from '../signatures/clamav/ldb.js';
import type { BodySigInput } from './bodydb.js';
import { evalLogical } from './lsig.js';
import type { Detection } from './result.js';
import type { LogicalContext, LogicalPort } from './scanner.js';

function inRange(v: number, r: Range | undefined): boolean {
  return r === undefined || (v >= r.min && v <= r.max);
}

export class LogicalSignatures implements LogicalPort {
  constructor(private readonly sigs: readonly LdbSig[], inputs: BodySigInput[]) {
    sigs.forEach((sig, ldb) => {
      sig.subsigs.forEach((sub, subsig) => {
        if (sub.k !== 'content') return;
        for (const pattern of applyModifiers(sub.pattern, sub.mods)) {
          inputs.push({ name: sig.name, target: sig.tdb.target, offset: sub.offset, pattern, origin: sig.origin, owner: { ldb, subsig } });
        }
      });
    });
  }

  get size(): number { return this.sigs.length; }

  evaluate(ctx: LogicalContext): readonly Detection[] {
    const out: Detection[] = [];
    this.sigs.forEach((sig, ldb) => {
      const t = sig.tdb;
      if (t.target !== 0 && !ctx.targets.has(t.target)) return;
      if (!inRange(ctx.bytes.length, t.fileSize)) return;
      if (t.entryPoint && (!ctx.exec || !inRange(ctx.exec.entryPoint, t.entryPoint))) return;
      if (t.numberOfSections && (!ctx.exec || !inRange(ctx.exec.sections.length, t.numberOfSections))) return;
      if (t.container !== undefined && t.container !== 'CL_TYPE_ANY' && ctx.layer.length === 0) return;
      if (t.intermediates !== undefined && ctx.layer.length === 0) return;
      if (t.iconGroup1 !== undefined || t.iconGroup2 !== undefined) return; // icon matching needs PE resources
      const counts = new Uint32Array(sig.subsigs.length);
      let firstOffset: number | undefined;
      sig.subsigs.forEach((sub, i) => {
        if (sub.k !== 'content') return;
        const m = ctx.subsigMatches.get(`${ldb}:${i}`);
        if (!m) return;
        counts[i] = new Set(m).size;
        const first = Math.min(...m);
        if (firstOffset === undefined || first < firstOffset) firstOffset = first;
      });
      if (!evalLogical(sig.expr, counts)) return;
      out.push({ name: sig.name, kind: 'logical', db: sig.origin.db, line: sig.origin.line, layer: ctx.layer, ...(firstOffset !== undefined ? { offset: firstOffset } : {}) });
    });
    return out;
  }
}
