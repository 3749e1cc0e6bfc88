/**
 * Loading ClamAV databases: paths (directories, files, containers) → one `SignatureSet`.
 *
 * In: the `-d` paths (or the default directories), options (PUA, phishing, official only).
 * Out: every accepted signature with its origin, the "Known viruses" count as clamscan computes
 * it, the list of files loaded, and every diagnostic. The policy is ClamAV's (reference §1.0): a
 * malformed line fails the whole load (`ERROR: Malformed database`, exit 2) — the caller must not
 * scan with a half-loaded set, so `ok` is false whenever any error was found.
 *
 * Directory order (`cli_loaddbdir`): `.ign`/`.ign2` first, then `daily.cld`, `daily.cvd`,
 * `local.gdb`, `daily.cfg`, `*.crb`, then everything else in directory order. Files whose
 * extension is not a database extension are ignored in directories; named explicitly, an unknown
 * extension is skipped with a warning, as ClamAV does.
 */
import { checkYara } from '../yara/check.js';
import { DEFAULT_MODULES } from '../yara/modules-catalog.js';
import { parseYara } from '../yara/parser.js';
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Diagnostic } from '../../core/diagnostics.js';
import { parseNdb } from './ndb.js';
import { parseLdb, type PcreProblem } from './ldb.js';
import { parseHashDb, type HashSink } from './hash.js';
import { parseIgn, IgnoreSet } from './ign.js';
import { parseCdb } from './cdb.js';
import { loadContainer, parseCvdHeader } from './cvd.js';
import { reportedName } from './lines.js';
import type { CdbSig, HashAlgo, LdbSig, NdbSig } from './types.js';

export interface LoadOptions {
  paths: string[];
  detectPua?: boolean;
  phishing?: boolean;
  officialOnly?: boolean;
  /** Databases whose content is treated as official (vigil's own shipped database). */
  trustedPaths?: string[];
  /**
   * Where hash signatures go. Given, entries stream into these sinks (the engine's compact
   * indexes) and `SignatureSet.hashes` stays empty; absent, they are collected as objects.
   */
  hashSink?: (scope: 'file' | 'section' | 'import', allow: boolean) => HashSink;
  /** Syntax check for PCRE subsignatures (supplied by the engine, which owns the regex translator). */
  checkPcre?: (pattern: string, flags: string) => readonly PcreProblem[];
}

export interface LoadedHash {
  algo: HashAlgo;
  hash: Uint8Array;
  size: number | null;
  name: string;
  db: string;
  line: number;
  scope: 'file' | 'section' | 'import';
  allow: boolean;
}

/** A YARA rule file of a database: its text (latin1, byte for byte) and what it holds. */
export interface LoadedYara {
  file: string;
  text: string;
  rules: number;
  official: boolean;
}

export interface SignatureSet {
  ndb: NdbSig[];
  ldb: LdbSig[];
  cdb: CdbSig[];
  hashes: LoadedHash[];
  /** YARA rule files that parsed and checked (their rules are compiled by the engine). */
  yara: LoadedYara[];
  /** clamscan's "Known viruses" count. */
  known: number;
  /** Each database file loaded, with how many signatures it contributed. */
  files: { path: string; kind: string; signatures: number; official: boolean }[];
  /** Official daily version and build time, for `VERSION`-style reports. */
  daily?: { version: number; time: number };
  diagnostics: Diagnostic[];
  ok: boolean;
}

const DB_EXTENSIONS = ['.db', '.hdb', '.hdu', '.fp', '.mdb', '.mdu', '.hsb', '.hsu', '.sfp', '.msb', '.msu', '.ndb', '.ndu', '.ldb', '.ldu', '.sdb', '.zmd', '.rmd', '.pdb', '.gdb', '.wdb', '.cbc', '.ftm', '.cfg', '.cvd', '.cld', '.cud', '.cdb', '.cat', '.crb', '.idb', '.ioc', '.yar', '.yara', '.pwdb', '.ign', '.ign2', '.imp'];

function endsWithCI(name: string, ext: string): boolean {
  return name.length >= ext.length && name.slice(-ext.length).toLowerCase() === ext;
}

export function isDbFile(name: string): boolean {
  return DB_EXTENSIONS.some((e) => endsWithCI(name, e));
}

function priority(name: string): number {
  if (endsWithCI(name, '.ign') || endsWithCI(name, '.ign2')) return 1;
  if (name === 'daily.cld') return 2;
  if (name === 'daily.cvd') return 3;
  if (name === 'local.gdb') return 4;
  if (name === 'daily.cfg') return 5;
  if (endsWithCI(name, '.crb')) return 6;
  return 7;
}

export function loadSignatures(opts: LoadOptions): SignatureSet {
  const set: SignatureSet = { ndb: [], ldb: [], cdb: [], hashes: [], yara: [], known: 0, files: [], diagnostics: [], ok: true };
  const ignore = new IgnoreSet();
  const trusted = new Set((opts.trustedPaths ?? []).map((t) => resolve(t)));
  for (const path of opts.paths) {
    let st;
    try {
      st = statSync(path);
    } catch (e) {
      set.diagnostics.push({ code: 'clamav.db.open', severity: 'error', message: `can't open ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`, location: { file: path, line: 0, column: 0 } });
      continue;
    }
    if (st.isDirectory()) {
      let names: string[];
      try {
        names = readdirSync(path);
      } catch (e) {
        set.diagnostics.push({ code: 'clamav.db.open', severity: 'error', message: `can't open directory ${path}: ${(e as Error).message}`, location: { file: path, line: 0, column: 0 } });
        continue;
      }
      const entries = names.filter(isDbFile).map((n, i) => ({ n, i, p: priority(n) }));
      entries.sort((a, b) => a.p - b.p || a.i - b.i);
      // Of X.cvd and X.cld only the newer loads (the .cld wins a tie), as ClamAV does; a warning
      // says which was dropped.
      for (const cld of entries.filter((e) => endsWithCI(e.n, '.cld'))) {
        const stem = cld.n.slice(0, -4);
        const cvd = entries.find((e) => e.n.toLowerCase() === `${stem}.cvd`.toLowerCase());
        if (!cvd) continue;
        const version = (n: string) => {
          try {
            const fd = openSync(join(path, n), 'r');
            try {
              const head = Buffer.alloc(512);
              readSync(fd, head, 0, 512, 0);
              return parseCvdHeader(head, n).header?.version ?? -1;
            } finally { closeSync(fd); }
          } catch { return -1; }
        };
        const drop = version(cld.n) >= version(cvd.n) ? cvd : cld;
        const keep = drop === cvd ? cld : cvd;
        set.diagnostics.push({ code: 'clamav.db.duplicate', severity: 'warning', message: `detected duplicate databases ${join(path, keep.n)} and ${join(path, drop.n)}; ${drop.n} is older and was not loaded`, location: { file: join(path, drop.n), line: 0, column: 0 } });
        entries.splice(entries.indexOf(drop), 1);
      }
      if (opts.officialOnly) {
        for (let k = entries.length - 1; k >= 0; k--) {
          const e = entries[k]!;
          if (e.p === 7 && !endsWithCI(e.n, '.cvd') && !endsWithCI(e.n, '.cld')) entries.splice(k, 1);
        }
      }
      for (const e of entries) loadFile(join(path, e.n), e.n, set, ignore, opts, trusted.has(resolve(path)));
    } else {
      loadFile(path, basename(path), set, ignore, opts, trusted.has(resolve(path)) || trusted.has(dirname(resolve(path))));
    }
  }
  set.ok = !set.diagnostics.some((d) => d.severity === 'error');
  return set;
}

function loadFile(path: string, name: string, set: SignatureSet, ignore: IgnoreSet, opts: LoadOptions, trusted: boolean): void {
  let data: Uint8Array;
  try {
    data = readFileSync(path);
  } catch (e) {
    set.diagnostics.push({ code: 'clamav.db.open', severity: 'error', message: `can't open ${path}: ${(e as Error).message}`, location: { file: path, line: 0, column: 0 } });
    return;
  }
  if (endsWithCI(name, '.cvd') || endsWithCI(name, '.cld') || endsWithCI(name, '.cud')) {
    const c = loadContainer(data, path);
    set.diagnostics.push(...c.diagnostics);
    if (c.files.length === 0) return;
    if (basename(path).startsWith('daily.') && c.header) set.daily = { version: c.header.version, time: c.header.stime ?? 0 };
    // Ignore lists inside the container load first, like in a directory.
    const members = [...c.files].sort((a, b) => priority(a.name) - priority(b.name));
    for (const m of members) loadMember(`${path}:${m.name}`, m.name, m.data, set, ignore, opts, c.official);
    return;
  }
  loadMember(path, name, data, set, ignore, opts, trusted);
}

/** Loads one database file's bytes by extension (ClamAV `cli_load`). */
function loadMember(display: string, name: string, data: Uint8Array, set: SignatureSet, ignore: IgnoreSet, opts: LoadOptions, official: boolean): void {
  const pua = !!opts.detectPua;
  const ext = (e: string) => endsWithCI(name, e);
  const record = (kind: string, n: number) => {
    set.files.push({ path: display, kind, signatures: n, official });
    set.known += n;
  };
  const hashInto = (kind: 'hdb' | 'mdb' | 'imp' | 'fp') => {
    const scope = kind === 'mdb' ? 'section' : kind === 'imp' ? 'import' : 'file';
    const names: string[] = [];
    const nameIds = new Map<string, number>();
    const collect: HashSink = {
      beginFile: () => {},
      internName: (n: string) => {
        let id = nameIds.get(n);
        if (id === undefined) { id = names.length; names.push(n); nameIds.set(n, id); }
        return id;
      },
      add: (algo, hash, size, nameIndex, line) => {
        set.hashes.push({
          algo, hash: typeof hash === 'string' ? Buffer.from(hash, 'hex') : Uint8Array.from(hash), size,
          name: names[nameIndex] ?? '', db: display, line, scope, allow: kind === 'fp',
        });
      },
    };
    const sink = opts.hashSink ? opts.hashSink(scope, kind === 'fp') : collect;
    const r = parseHashDb(data, { file: display, kind, official, ignore }, sink);
    set.diagnostics.push(...r.diagnostics);
    record(kind, r.count);
  };
  if (ext('.db')) {
    set.diagnostics.push({ code: 'clamav.db.legacy', severity: 'warning', message: `${display}: legacy .db format is not supported; skipped`, location: { file: display, line: 0, column: 0 } });
  } else if (ext('.crb') || ext('.cat') || ext('.cbc') || ext('.cfg') || ext('.wdb') || ext('.pdb') || ext('.gdb') || ext('.ftm') || ext('.idb') || ext('.ioc') || ext('.pwdb') || ext('.zmd') || ext('.rmd')) {
    // Formats without file detections of their own (trust rules, bytecode, dconf, phishing,
    // type magic, icons): accepted, not yet applied. `vigil db info` lists them.
    set.files.push({ path: display, kind: name.slice(name.lastIndexOf('.') + 1), signatures: 0, official });
  } else if (ext('.hdb') || ext('.hsb')) hashInto('hdb');
  else if (ext('.hdu') || ext('.hsu')) { if (pua) hashInto('hdb'); }
  else if (ext('.fp') || ext('.sfp')) hashInto('fp');
  else if (ext('.mdb') || ext('.msb')) hashInto('mdb');
  else if (ext('.imp')) hashInto('imp');
  else if (ext('.mdu') || ext('.msu')) { if (pua) hashInto('mdb'); }
  else if (ext('.ndb') || ext('.sdb') || (ext('.ndu') && pua)) {
    const r = parseNdb(data, { file: display, ignore, phishing: !!opts.phishing });
    set.diagnostics.push(...r.diagnostics);
    for (const s of r.sigs) set.ndb.push({ ...s, name: reportedName(s.name, official) });
    record('ndb', r.sigs.length);
  } else if (ext('.ndu')) { /* PUA off */ }
  else if (ext('.ldb') || (ext('.ldu') && pua)) {
    const r = parseLdb(data, { file: display, official, ignore, ...(opts.checkPcre ? { checkPcre: opts.checkPcre } : {}) });
    set.diagnostics.push(...r.diagnostics);
    for (const s of r.sigs) set.ldb.push({ ...s, name: reportedName(s.name, official) });
    record('ldb', r.sigs.length);
  } else if (ext('.ldu')) { /* PUA off */ }
  else if (ext('.info')) {
    set.diagnostics.push({ code: 'clamav.db.info', severity: 'error', message: `${display}: .info files can only be loaded from within database container files`, location: { file: display, line: 0, column: 0 } });
  } else if (ext('.ign') || ext('.ign2')) {
    const r = parseIgn(data, { file: display, into: ignore });
    set.diagnostics.push(...r.diagnostics);
    set.files.push({ path: display, kind: 'ign', signatures: 0, official });
  } else if (ext('.cdb')) {
    const r = parseCdb(data, { file: display, official, ignore });
    set.diagnostics.push(...r.diagnostics);
    set.cdb.push(...r.sigs); // parseCdb names them as clamscan reports them already
    record('cdb', r.sigs.length);
  } else if (ext('.yar') || ext('.yara')) {
    // As in ClamAV, a YARA file that does not compile is skipped with a warning; the load goes on.
    const text = Buffer.from(data).toString('latin1');
    const parsed = parseYara(data, display);
    const checked = parsed.diagnostics.some((d) => d.severity === 'error') ? undefined : checkYara(parsed.ast, { modules: DEFAULT_MODULES, source: data, file: display });
    const problems = [...parsed.diagnostics, ...(checked?.diagnostics ?? [])].filter((d) => d.severity === 'error');
    if (!checked || problems.length > 0) {
      for (const d of problems) set.diagnostics.push({ ...d, severity: 'warning' });
      set.diagnostics.push({ code: 'vigil.yara.skipped', severity: 'warning', message: `${display}: YARA rules failed to compile; the file was skipped`, location: { file: display, line: 0, column: 0 } });
      return;
    }
    set.yara.push({ file: display, text, rules: checked.rules.length, official });
    record('yara', checked.rules.length);
  } else {
    set.diagnostics.push({ code: 'clamav.db.unknown-extension', severity: 'warning', message: `unknown extension - skipping ${display}`, location: { file: display, line: 0, column: 0 } });
  }
}
