/**
 * Logical signatures at scan time: `.ldb` → content subsignatures fed to the shared body matcher,
 * and, after a layer's pass, the target description block and the logical expression evaluated
 * from the recorded subsignature matches (reference §1.3: "evaluated after the whole layer").
 *
 * In: parsed `LdbSig`s; the list of body-signature inputs, to which this module appends one input
 * per content-subsignature variant (tagged with its owner). Out: a `LogicalPort` for the scanner.
 *
 * Order of evaluation per signature, as in ClamAV: content subsignatures come from the body pass;
 * byte compares run next (so one triggered by a PCRE subsignature never fires); PCRE subsignatures
 * run last, each only when its trigger expression holds on the counts so far.
 */
import { resolveExecOffset } from '../formats/exec.js';
import type { LdbContentSubsig, LdbByteCmpSubsig } from '../signatures/clamav/ldb-types.js';
import { applyModifiers } from '../signatures/clamav/ldb.js';
import type { LdbSig, OffsetSpec, Range } from '../signatures/clamav/types.js';
import type { BodySigInput } from './bodydb.js';
import { evalByteCompare, evalLogical } from './lsig.js';
import { evalPcre } from './pcre.js';
import type { Detection } from './result.js';
import type { LogicalContext, LogicalPort } from './scanner.js';

function inRange(v: number, r: Range | undefined): boolean {
  return r === undefined || (v >= r.min && v <= r.max);
}

/**
 * ClamAV's counting: matches arrive in the order the matcher finds them, and one that starts at
 * or before the last counted start is not counted again.
 */
function countMatches(starts: readonly number[]): { count: number; counted: number[] } {
  const counted: number[] = [];
  for (const s of starts) if (counted.length === 0 || s > counted[counted.length - 1]!) counted.push(s);
  return { count: counted.length, counted };
}

export class LogicalSignatures implements LogicalPort {
  /**
   * Signatures that must be evaluated on every layer: those whose expression holds with no
   * match at all (`0=0`), and those with PCRE subsignatures (they search the layer themselves).
   * Every other signature can only become true once one of its content subsignatures matched,
   * so it is evaluated only then: with thousands of logical signatures this is the difference
   * between a loop per layer and a loop per match.
   */
  private readonly always: number[] = [];

  constructor(private readonly sigs: readonly LdbSig[]) {
    sigs.forEach((sig, ldb) => {
      const zero = new Uint32Array(sig.subsigs.length);
      if (sig.subsigs.some((s) => s.k === 'pcre') || evalLogical(sig.expr, zero)) this.always.push(ldb);
    });
  }

  /** One body-signature input per content-subsignature variant, tagged with its owner. */
  static contentInputs(sigs: readonly LdbSig[]): BodySigInput[] {
    const inputs: BodySigInput[] = [];
    sigs.forEach((sig, ldb) => {
      sig.subsigs.forEach((sub, subsig) => {
        if (sub.k !== 'content') return;
        const variants = (sub as Partial<LdbContentSubsig>).variants ?? applyModifiers(sub.pattern, sub.mods);
        for (const pattern of variants) {
          inputs.push({ name: sig.name, target: sig.tdb.target, offset: sub.offset, pattern, origin: sig.origin, owner: { ldb, subsig } });
        }
      });
    });
    return inputs;
  }

  get size(): number { return this.sigs.length; }

  evaluate(ctx: LogicalContext): readonly Detection[] {
    const out: Detection[] = [];
    const size = ctx.size;
    const resolver = (spec: OffsetSpec) => {
      if (spec.kind === 'ep' || spec.kind === 'section' || spec.kind === 'sectionEntire' || spec.kind === 'lastSection') {
        return ctx.exec ? resolveExecOffset(ctx.exec, spec) : undefined;
      }
      return undefined;
    };
    let text: string | undefined;
    // Candidates: the always-evaluated ones and those with a content match, in load order.
    const cand = new Set<number>(this.always);
    for (const key of ctx.subsigMatches.keys()) cand.add(Number(key.slice(0, key.indexOf(':'))));
    const order = [...cand].sort((a, b) => a - b);
    for (const ldb of order) {
      const sig = this.sigs[ldb]!;
      this.evaluateOne(sig, ldb, ctx, size, resolver, () => (text ??= Buffer.from(ctx.bytes.buffer, ctx.bytes.byteOffset, ctx.bytes.byteLength).toString('latin1')), out);
    }
    return out;
  }

  private evaluateOne(
    sig: LdbSig, ldb: number, ctx: LogicalContext, size: number,
    resolver: (spec: OffsetSpec) => { min: number; max: number } | undefined, latin1: () => string, out: Detection[],
  ): void {
    const t = sig.tdb;
    if (!ctx.targets.has(t.target)) return;
    if (!inRange(size, t.fileSize)) return;
    if (t.entryPoint && (!ctx.exec || !inRange(ctx.exec.entryPoint, t.entryPoint))) return;
    if (t.numberOfSections && (!ctx.exec || !inRange(ctx.exec.sections.length, t.numberOfSections))) return;
    // Container: the type of the enclosing layer (CL_TYPE_ANY for a file itself). Intermediates: the
    // enclosing layers' types, CL_TYPE_ANY matching any (ClamAV's lsig_eval).
    const containers = ctx.containers ?? [];
    if (t.container !== undefined && t.container !== (containers[containers.length - 1] ?? 'CL_TYPE_ANY')) return;
    if (t.intermediates !== undefined) {
      const want = t.intermediates;
      if (containers.length < want.length) return;
      // The last type named is checked against the nearest layer, and so on outwards; a
      // CL_TYPE_ANY is skipped without using up a layer (ClamAV's intermediates_eval).
      let j = containers.length - 1;
      for (let i = want.length - 1; i >= 0; i--) {
        if (want[i] === 'CL_TYPE_ANY') continue;
        if (want[i] !== containers[j]) return;
        j--;
      }
    }
    if (t.iconGroup1 !== undefined || t.iconGroup2 !== undefined) return; // icon matching needs PE resources
    const n = sig.subsigs.length;
    const counts = new Uint32Array(n);
    const offsets: number[][] = Array.from({ length: n }, () => []);
    sig.subsigs.forEach((sub, i) => {
      if (sub.k !== 'content') return;
      const m = ctx.subsigMatches.get(`${ldb}:${i}`);
      if (!m) return;
      const c = countMatches(m);
      counts[i] = c.count;
      offsets[i] = c.counted;
    });
    sig.subsigs.forEach((sub, i) => {
      if (sub.k !== 'bytecmp') return;
      const bc = sub as unknown as LdbByteCmpSubsig;
      const ref = offsets[bc.ref];
      if (!ref || ref.length === 0) return;
      if (evalByteCompare(bc as never, ctx.bytes, ref)) { counts[i] = 1; offsets[i] = [ref[ref.length - 1]!]; }
    });
    sig.subsigs.forEach((sub, i) => {
      if (sub.k !== 'pcre') return;
      if (sub.trigger && !evalLogical(sub.trigger, counts)) return;
      const found = evalPcre(sub, latin1(), size, resolver);
      counts[i] = found.length;
      offsets[i] = found;
    });
    if (!evalLogical(sig.expr, counts)) return;
    let first: number | undefined;
    for (const o of offsets) for (const v of o) if (first === undefined || v < first) first = v;
    out.push({ name: sig.name, kind: 'logical', db: sig.origin.db, line: sig.origin.line, layer: ctx.layer, ...(first !== undefined ? { offset: first } : {}) });
  }
}
