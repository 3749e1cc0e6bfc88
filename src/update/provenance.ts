/**
 * Provenance lookup: signature name → where the threat intelligence behind it came from.
 *
 * In: the database paths a scan loads (directories, files). Out: a `ProvenanceIndex` over every
 * `NAME.provenance.json` sidecar that `vigil db import` wrote there (a directory's sidecars; for a
 * database file `NAME.hsb` its sibling `NAME.provenance.json`; a sidecar named directly), and the
 * problems met reading them (a bad sidecar is skipped, never fatal: provenance is an explanation,
 * not a signature).
 * Why: `vigil scan --json` shows, beside each detection, the MISP event, STIX indicator or list
 * line that asked for it. Names are looked up as the scanner reports them: the `.UNOFFICIAL`
 * suffix the loader adds is ignored, and YARA detections are `YARA.<rule>` in the sidecars too.
 * A name found in several sidecars (the same hash imported from two sources) gets every entry.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { HashAlgo } from '../signatures/clamav/types.js';
import { PROVENANCE_FORMAT, PROVENANCE_SUFFIX, sidecarsIn, type ProvenanceEntry, type SignatureProvenance } from './tiimport.js';

/** Largest sidecar read. */
export const MAX_SIDECAR_BYTES = 256 * 1024 * 1024;

export interface ProvenanceRecord extends SignatureProvenance {
  /** The signature name as imported (without `.UNOFFICIAL`). */
  name: string;
  /** The sidecars it was found in: source name, file, import time. */
  sources: { source: string; sidecar: string; importedAt: string }[];
}

export interface ProvenanceIndex {
  /** The record of a detection name (`MISP.E12.Sha256.….UNOFFICIAL`, `YARA.rule.UNOFFICIAL` or without the suffix). */
  get(name: string): ProvenanceRecord | undefined;
  /** Signatures with provenance. */
  readonly size: number;
  /** Sidecars read. */
  readonly sidecars: readonly string[];
  /** Sidecars or records skipped, with the reason. */
  readonly problems: readonly string[];
}

const HASH_ALGOS = new Set(['md5', 'sha1', 'sha256']);

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The sidecars for these database paths, each once, in order. */
function sidecarPaths(paths: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (p: string): void => { if (!seen.has(p)) { seen.add(p); out.push(p); } };
  for (const p of paths) {
    let st;
    try { st = statSync(p); } catch { continue; }
    if (st.isDirectory()) { for (const s of sidecarsIn(p)) add(s); continue; }
    const name = basename(p);
    if (name.endsWith(PROVENANCE_SUFFIX)) { add(p); continue; }
    const dot = name.lastIndexOf('.');
    if (dot <= 0) continue;
    const sibling = join(dirname(p), `${name.slice(0, dot)}${PROVENANCE_SUFFIX}`);
    try { if (statSync(sibling).isFile()) add(sibling); } catch { /* no provenance for this file */ }
  }
  return out;
}

/**
 * The sidecars found in these database paths. They are located now and read on first use (a scan
 * without detections never parses them). Never throws for their content.
 */
export function loadProvenance(databasePaths: string[]): ProvenanceIndex {
  const paths = sidecarPaths(databasePaths);
  let loaded: ReturnType<typeof readSidecars> | undefined;
  const data = (): ReturnType<typeof readSidecars> => (loaded ??= readSidecars(paths));
  return {
    get(name: string): ProvenanceRecord | undefined {
      const records = data().records;
      return records.get(name) ?? (name.endsWith('.UNOFFICIAL') ? records.get(name.slice(0, -'.UNOFFICIAL'.length)) : undefined);
    },
    get size() { return data().records.size; },
    get sidecars() { return data().sidecars; },
    get problems() { return data().problems; },
  };
}

function readSidecars(paths: readonly string[]): { records: Map<string, ProvenanceRecord>; problems: string[]; sidecars: string[] } {
  const records = new Map<string, ProvenanceRecord>();
  const problems: string[] = [];
  const sidecars: string[] = [];
  for (const path of paths) {
    let doc: unknown;
    try {
      const st = statSync(path);
      if (!st.isFile()) { problems.push(`${path}: not a regular file`); continue; }
      if (st.size > MAX_SIDECAR_BYTES) { problems.push(`${path}: ${st.size} bytes; the limit is ${MAX_SIDECAR_BYTES}`); continue; }
      doc = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      problems.push(`${path}: ${e instanceof SyntaxError ? `invalid JSON: ${e.message}` : (e as Error).message}`);
      continue;
    }
    if (!isObj(doc) || doc['format'] !== PROVENANCE_FORMAT || doc['version'] !== 1 || !isObj(doc['signatures'])) {
      problems.push(`${path}: not a vigil provenance file (format ${PROVENANCE_FORMAT}, version 1)`);
      continue;
    }
    sidecars.push(path);
    const source = typeof doc['source'] === 'string' ? doc['source'] : basename(path, PROVENANCE_SUFFIX);
    const importedAt = typeof doc['importedAt'] === 'string' ? doc['importedAt'] : '';
    let bad = 0;
    for (const [name, v] of Object.entries(doc['signatures'])) {
      const rec = checkRecord(name, v);
      if (!rec) { bad++; continue; }
      const prev = records.get(name);
      const from = { source, sidecar: path, importedAt };
      if (prev) {
        const have = new Set(prev.entries.map((e) => JSON.stringify(e)));
        for (const e of rec.entries) if (!have.has(JSON.stringify(e))) prev.entries.push(e);
        prev.sources.push(from);
      } else {
        records.set(name, { ...rec, sources: [from] });
      }
    }
    if (bad > 0) problems.push(`${path}: ${bad} malformed signature record${bad === 1 ? '' : 's'} skipped`);
  }
  return { records, problems, sidecars };
}

/** A record from a sidecar, checked enough that consumers can rely on its shape. */
function checkRecord(name: string, v: unknown): Omit<ProvenanceRecord, 'sources'> | undefined {
  if (name.length === 0 || name.length > 512 || !isObj(v)) return undefined;
  const kind = v['kind'];
  if (kind !== 'hash' && kind !== 'yara') return undefined;
  const entries = v['entries'];
  if (!Array.isArray(entries) || !entries.every((e) => isObj(e) && typeof e['source'] === 'string' && typeof e['format'] === 'string' && isObj(e['input']))) return undefined;
  const rec: Omit<ProvenanceRecord, 'sources'> = { name, kind, entries: entries as ProvenanceEntry[] };
  if (kind === 'hash') {
    if (typeof v['algo'] !== 'string' || !HASH_ALGOS.has(v['algo']) || typeof v['hash'] !== 'string') return undefined;
    rec.algo = v['algo'] as HashAlgo;
    rec.hash = v['hash'];
    if (Array.isArray(v['sizes']) && v['sizes'].every((n) => Number.isInteger(n))) rec.sizes = v['sizes'] as number[];
  } else if (typeof v['rule'] === 'string') rec.rule = v['rule'];
  return rec;
}

/**
 * What `vigil scan --json` shows for a detection: the first `max` entries (source, event or
 * indicator, time, input location) and how many more there are.
 */
export function provenanceForJson(rec: ProvenanceRecord, max = 10): { signature: string; entries: ProvenanceEntry[]; more?: number; sources: string[] } {
  return {
    signature: rec.name,
    entries: rec.entries.slice(0, max),
    ...(rec.entries.length > max ? { more: rec.entries.length - max } : {}),
    sources: rec.sources.map((s) => s.source),
  };
}
