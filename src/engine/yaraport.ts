/**
 * YARA rules of a ClamAV database, as the scanner sees them: detections named as ClamAV names
 * them (`YARA.<rule>.UNOFFICIAL`), with evidence.
 *
 * In: the YARA files a database load kept (text and origin). Out: the rules compiled once, their
 * atom entries (which join the body signatures' atom index, so one pass over a layer serves both),
 * and per layer a collector that takes the shared pass's hits and turns them into detections
 * after the pass. Layers the shared pass does not cover (normalised text, streamed files) are
 * scanned by the rules' own index.
 *
 * ClamAV runs YARA rules as logical signatures of target 0: in every pass whose targets include
 * 0, reported after the pass's body and hash detections. vigil does the same, without ClamAV's
 * restrictions on YARA (docs/compatibility.md).
 */
import { LineIndex, type Diagnostic } from '../core/diagnostics.js';
import type { LoadedYara } from '../signatures/clamav/loader.js';
import { toHex } from '../core/bytes.js';
import type { CheckedRule } from '../signatures/yara/ir.js';
import type { AtomSource } from './atoms.js';
import type { Detection } from './result.js';
import { compileYara, scanYara, scanYaraBlocks, yaraAtoms, YaraLayer, type CompiledGroup, type CompiledYara, type YaraFileSource, type YaraScanResult } from './yara/rules.js';

/** A layer's collector: atom hits in (layer positions), detections out. */
export interface YaraLayerPort {
  onHit(entry: number, pos: number): void;
  detections(layer: string[]): Detection[];
}

/** What the scanner needs from YARA rules. */
export interface YaraPort {
  /** A collector for one layer held whole, fed by the shared atom index. */
  layer(bytes: Uint8Array): YaraLayerPort;
  /** The rules alone over some bytes (a layer the shared index did not scan). */
  scan(bytes: Uint8Array, layer: string[]): Detection[];
  /** The rules alone over a streamed layer, in blocks. */
  scanBlocks(file: YaraFileSource, layer: string[]): Detection[];
}

interface Origin { file: string; official: boolean; lines: LineIndex }

const compiledFor = new WeakMap<readonly LoadedYara[], YaraRules>();

export class YaraRules implements YaraPort {
  /** The rules of these files, compiled once per list (a cache check and the engine share them). */
  static for(files: readonly LoadedYara[]): YaraRules {
    let r = compiledFor.get(files);
    if (!r) {
      r = new YaraRules(files);
      compiledFor.set(files, r);
    }
    return r;
  }

  readonly compiled: CompiledYara;
  /** Files whose strings failed to compile (skipped, as ClamAV skips a YARA file it cannot load). */
  readonly problems: Diagnostic[] = [];
  private readonly origins = new Map<CheckedRule, Origin>();

  constructor(files: readonly LoadedYara[]) {
    const groups: CompiledGroup[] = [];
    for (const f of files) {
      const bytes = Buffer.from(f.text, 'latin1');
      const r = compileYara([{ file: f.file, text: bytes }]);
      if (!r.compiled) {
        this.problems.push(...r.diagnostics.filter((d) => d.severity === 'error'));
        continue;
      }
      const lines = new LineIndex(bytes);
      for (const g of r.compiled.groups) {
        groups.push(g);
        const origin = { file: f.file, official: f.official, lines };
        for (const rule of g.rules) this.origins.set(rule, origin);
      }
    }
    this.compiled = { groups, externals: {} };
  }

  get ruleCount(): number {
    return this.compiled.groups.reduce((n, g) => n + g.rules.length, 0);
  }

  /** Atom entries for the shared index (ids stable for the same files). */
  atoms(): AtomSource[] {
    return yaraAtoms(this.compiled).indexed;
  }

  layer(bytes: Uint8Array): YaraLayerPort {
    const l = new YaraLayer(this.compiled, bytes, {}, true);
    return { onHit: l.onHit, detections: (layer) => this.detections(l.finish(), bytes, layer) };
  }

  scan(bytes: Uint8Array, layer: string[]): Detection[] {
    return this.detections(scanYara(this.compiled, bytes), bytes, layer);
  }

  scanBlocks(file: YaraFileSource, layer: string[]): Detection[] {
    return this.detections(scanYaraBlocks(this.compiled, file), new Uint8Array(0), layer);
  }

  private detections(r: YaraScanResult, bytes: Uint8Array, layer: string[]): Detection[] {
    const out: Detection[] = [];
    for (const m of r.matched) {
      const o = this.origins.get(m.rule);
      // Evidence: the earliest string match (none for a condition without strings).
      let first: { offset: number; length: number; data?: Uint8Array } | undefined;
      for (const list of m.strings) for (const x of list) if (!first || x.offset < first.offset) first = x;
      out.push({
        name: `YARA.${m.rule.name}${o?.official ? '' : '.UNOFFICIAL'}`,
        kind: 'yara',
        ...(o ? { db: o.file, line: o.lines.at(m.rule.span.start).line } : {}),
        layer,
        ...(first ? { offset: first.offset, matched: toHex(first.data ? first.data.subarray(0, 256) : bytes.subarray(first.offset, first.offset + Math.min(first.length, 256))) } : {}),
      });
    }
    return out;
  }
}
