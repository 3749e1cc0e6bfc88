/**
 * The engine: a loaded `SignatureSet` → compiled matchers → `scan(bytes)` → `ScanResult`.
 *
 * In: signatures from `signatures/clamav/loader.ts`. Out: an object shared by every scan (and,
 * through its serialised form, by worker threads), whose `scan` applies ClamAV's rules for one file:
 * detections in ClamAV's order, allow lists checked before anything is reported, `--allmatch`.
 */
import { createHash } from 'node:crypto';
import type { SignatureSet, LoadedHash } from '../signatures/clamav/loader.js';
import type { HashAlgo } from '../signatures/clamav/types.js';
import { usesBoyerMoore } from '../signatures/clamav/bodysig.js';
import { BodyDatabase, type BodySigInput } from './bodydb.js';
import { scanLayer, type EnginePorts, type HashHit, type HashPort, type TypeInfo } from './scanner.js';
import type { Detection, ScanResult } from './result.js';
import { detectFileType, targetOf, isNormalisedText } from '../formats/filetype.js';
import { createTextNormaliser } from './textnorm.js';
import { LogicalSignatures } from './logical.js';

/** Whole-layer hashes by algorithm → hex → entries; sizes checked on lookup. */
class SimpleHashPort implements HashPort {
  private readonly maps = new Map<HashAlgo, Map<string, LoadedHash[]>>();
  private readonly sizes = new Map<HashAlgo, Set<number>>();
  private readonly wild = new Set<HashAlgo>();
  constructor(entries: readonly LoadedHash[]) {
    for (const e of entries) {
      let m = this.maps.get(e.algo);
      if (!m) this.maps.set(e.algo, (m = new Map()));
      const k = Buffer.from(e.hash).toString('hex');
      const list = m.get(k);
      if (list) list.push(e); else m.set(k, [e]);
      if (e.size === null) this.wild.add(e.algo);
      else {
        let s = this.sizes.get(e.algo);
        if (!s) this.sizes.set(e.algo, (s = new Set()));
        s.add(e.size);
      }
    }
  }
  get empty(): boolean { return this.maps.size === 0; }
  algorithmsFor(size: number): readonly HashAlgo[] {
    const out: HashAlgo[] = [];
    for (const a of ['md5', 'sha1', 'sha256'] as const) if (this.wild.has(a) || this.sizes.get(a)?.has(size)) out.push(a);
    return out;
  }
  lookup(algo: HashAlgo, digest: Uint8Array, size: number): readonly HashHit[] {
    const list = this.maps.get(algo)?.get(Buffer.from(digest).toString('hex'));
    if (!list) return [];
    // Exact-size entries before wildcard-size ones, as ClamAV checks them.
    const exact = list.filter((e) => e.size === size);
    const wild = list.filter((e) => e.size === null);
    return [...exact, ...wild].map((e) => ({ name: e.name, db: e.db, line: e.line }));
  }
}

/** Layers this small are never scanned, as in ClamAV. */
const TINY_FILE = 5;

export interface ScanOptions {
  allmatch?: boolean;
  layer?: string[];
}

export class Engine {
  readonly ports: EnginePorts;
  readonly known: number;
  private readonly allow: SimpleHashPort;

  constructor(readonly set: SignatureSet) {
    const inputs: BodySigInput[] = set.ndb.map((s) => ({
      name: s.name, target: s.target, offset: s.offset, pattern: s.pattern, origin: s.origin,
      boyerMoore: usesBoyerMoore(s.pattern.source, offsetText(s.offset), s.target),
    }));
    const logical = new LogicalSignatures(set.ldb, inputs);
    const body = new BodyDatabase(inputs);
    const hashes = new SimpleHashPort(set.hashes.filter((h) => h.scope === 'file' && !h.allow));
    this.allow = new SimpleHashPort(set.hashes.filter((h) => h.allow));
    this.known = set.known;
    this.ports = {
      body,
      ...(hashes.empty ? {} : { hashes }),
      logical,
      typeOf: (bytes: Uint8Array): TypeInfo => {
        const type = detectFileType(bytes);
        return { type, targets: targetOf(type), normalise: isNormalisedText(type) };
      },
      normalise: (bytes: Uint8Array) => {
        const n = createTextNormaliser();
        const a = n.push(bytes);
        const b = n.end();
        if (b.length === 0) return a;
        const out = new Uint8Array(a.length + b.length);
        out.set(a); out.set(b, a.length);
        return out;
      },
    };
  }

  /** Scans one file's bytes. */
  scan(bytes: Uint8Array, opts: ScanOptions = {}): ScanResult {
    // ClamAV does not look at files of 5 bytes or fewer at all (no hash, no pattern).
    if (bytes.length <= TINY_FILE) return { verdict: 'clean', detections: [], bytesScanned: 0 };
    const detections: Detection[] = scanLayer(this.ports, bytes, { allmatch: !!opts.allmatch, layer: opts.layer ?? [] });
    if (detections.length > 0 && !this.allow.empty && this.allowed(bytes)) {
      return { verdict: 'clean', detections: [], bytesScanned: bytes.length };
    }
    return { verdict: detections.length > 0 ? 'infected' : 'clean', detections, bytesScanned: bytes.length };
  }

  private allowed(bytes: Uint8Array): boolean {
    for (const algo of this.allow.algorithmsFor(bytes.length)) {
      const digest = createHash(algo).update(bytes).digest();
      if (this.allow.lookup(algo, digest, bytes.length).length > 0) return true;
    }
    return false;
  }
}

function offsetText(o: import('../signatures/clamav/types.js').OffsetSpec): string {
  switch (o.kind) {
    case 'any': return '*';
    case 'abs': return o.shift ? `${o.n},${o.shift}` : `${o.n}`;
    case 'eof': return o.shift ? `EOF-${o.n},${o.shift}` : `EOF-${o.n}`;
    case 'versionInfo': return 'VI';
    case 'macro': return `$${o.group}$`;
    default: return 'EP+0,1';
  }
}
