/**
 * Official ClamAV database updates from an HTTP mirror, the way freshclam 1.4 does them.
 *
 * In: mirror base URLs (http:/https:), a database directory, database names (default `daily`,
 * `main`, `bytecode`), an injectable `fetch`. Out: `NAME.cvd` (a whole container, stored byte for
 * byte as downloaded) or `NAME.cld` (the local database with `.cdiff`s applied) in the directory,
 * freshclam's stdout/stderr lines, and freshclam's exit code (`FC` below).
 * Why: vigil follows ClamAV's official signature channel without freshclam, and checks every
 * signature scheme of that channel before anything is installed.
 *
 * Per database and mirror (`updatedb` in libfreshclam_internal.c):
 *  1. The local `NAME.cvd`/`NAME.cld` header gives the local version and build time.
 *  2. `GET NAME.cvd` with `Range: bytes=0-511` (and `If-Modified-Since` the local build time: 304
 *     means up to date) gives the remote version; there is no DNS TXT lookup (freshclam's
 *     `DNSDatabaseInfo no` / PrivateMirror behaviour).
 *  3. Remote not newer → "database is up-to-date". No local copy → download the whole `NAME.cvd`.
 *     Otherwise download and apply `NAME-N.cdiff` for every missing version N. An empty or
 *     refused cdiff, or none at all when more than one version behind, falls back to the whole
 *     `NAME.cvd`; a cdiff missing after some applied gives a partial update; a missing last cdiff
 *     when one version behind leaves the database as it is, as freshclam does.
 *  4. The result is verified (`loadContainer`: header MD5 + raw-RSA dsig for `.cvd`, `.info` PSS
 *     DSIG, per-file sizes and SHA-256s; `applyCdiff`: cdiff PSS signature and the rewritten
 *     `.info`), loaded once as a database test, written to a temp file inside the directory,
 *     fsynced and renamed into place; the other of `NAME.cvd`/`NAME.cld` is then removed.
 *
 * Stricter than freshclam: a downloaded `.cvd` not newer than the local database never replaces
 * it (freshclam installs an older whole `.cvd` when the mirror is out of sync); the local database
 * is verified before cdiffs are applied to it; redirects are followed only within the mirror's
 * origin; every download is capped (`maxBytes`) and aborted after `timeoutMs` without data.
 * A 403 on the header request is "forbidden" (exit 17) here; freshclam 1.4 goes on to parse the
 * error page as a header and reports a failed GET (11).
 * Not done: DNS TXT version lookup, `.cld` from private mirrors, `freshclam.dat` (UUID, cool-down
 * after 403/429), `.sign` detached signatures (ClamAV 1.5), compressed `.cld`s, the tty-only
 * progress lines ("Current database is N versions behind.", "Downloading database patch # N...").
 */

import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { loadContainer, parseCvdHeader, CVD_HEADER_SIZE, type CvdHeader } from '../signatures/clamav/cvd.js';
import { ENGINE_FLEVEL } from '../signatures/clamav/lines.js';
import { loadSignatures } from '../signatures/clamav/loader.js';
import { applyCdiff, unpackContainer } from './cdiff.js';

/**
 * freshclam's exit codes (`fc_error_t`, libfreshclam.h), returned by `updateClamav`. 0 means
 * every database is up to date or was updated; 429 (rate limited) also ends in 0, as in freshclam.
 */
export const FC = {
  SUCCESS: 0,
  UPTODATE: 1,
  EINIT: 2,
  EDIRECTORY: 3,
  EFILE: 4,
  ECONNECTION: 5,
  EEMPTYFILE: 6,
  EBADCVD: 7,
  ETESTFAIL: 8,
  ECONFIG: 9,
  EDBDIRACCESS: 10,
  EFAILEDGET: 11,
  EMIRRORNOTSYNC: 12,
  EFAILEDUPDATE: 14,
  EARG: 16,
  EFORBIDDEN: 17,
  ERETRYLATER: 18,
} as const;

/** freshclam's text for each code (`fc_strerror`). */
const FC_TEXT: Record<number, string> = {
  0: 'Success', 1: 'Up-to-date', 2: 'Failed to initialize', 3: 'Invalid, nonexistent, or inaccessible directory',
  4: 'Invalid, nonexistent, or inaccessible file', 5: 'Connection failed', 6: 'Empty file', 7: 'Invalid or corrupted CVD/CLD database',
  8: 'Test failed', 9: 'Invalid configuration settings(s)', 10: 'Failed to read/write file to database directory', 11: 'HTTP GET failed',
  12: 'Downloaded database had lower version than advertised', 14: 'Failed to update database', 16: 'Invalid argument(s)',
  17: 'Forbidden; Blocked by CDN', 18: 'Too many requests; Retry later',
};

/** The standard databases, in freshclam's order (`hardcodedStandardDatabaseList`). */
export const DEFAULT_DATABASES: readonly string[] = ['daily', 'main', 'bytecode'];
/** Default per-download cap: 1 GiB (main.cvd is a few hundred MiB). */
export const DEFAULT_MAX_BYTES = 1024 * 1024 * 1024;

export interface ClamavUpdateOptions {
  /** Base URLs, tried in order (http: and https:). */
  mirrors: string[];
  /** Database directory (created if missing). */
  dbDir: string;
  /** Database names; default `['daily', 'main', 'bytecode']` (freshclam's set and order). */
  names?: string[];
  /** Injectable fetch; default the global one. */
  fetch?: typeof globalThis.fetch;
  now?: () => Date;
  /** Per-download cap in bytes; default DEFAULT_MAX_BYTES. */
  maxBytes?: number;
  /** A request with no data for this long is aborted; default 60 s (freshclam's ReceiveTimeout). */
  timeoutMs?: number;
  /** Attempts per mirror (freshclam's MaxAttempts); default 3. */
  maxAttempts?: number;
  /** Pause between attempts; default 5000 ms, as freshclam. */
  retryDelayMs?: number;
  /** Use cdiffs (freshclam's ScriptedUpdates); default true. */
  scriptedUpdates?: boolean;
  /** Load each new database with vigil's loader before installing it; default true. */
  testDatabase?: boolean;
}

export interface UpdateOutput {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

type Code = number;

interface Ctx {
  dbDir: string;
  fetch: typeof globalThis.fetch;
  maxBytes: number;
  timeoutMs: number;
  maxAttempts: number;
  retryDelayMs: number;
  scripted: boolean;
  testDatabase: boolean;
  info(s: string): void;
  warn(s: string): void;
  error(s: string): void;
}

// ---------------------------------------------------------------------------------------------
// HTTP

type Got =
  | { ok: true; status: number; body: Buffer }
  | { ok: false; code: Code; message: string };

const MAX_REDIRECTS = 5;

function describeFetchError(e: unknown): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.cause?.code) return `${err.cause.message ?? err.cause.code} (${err.cause.code})`;
  if (err.cause?.message) return err.cause.message;
  return err.message ?? String(e);
}

/**
 * GET `url` with a byte cap and an idle timeout. `range` asks for the 512-byte header only (a
 * server that ignores Range is read up to 512 bytes and cut off). Redirects are followed within
 * the URL's origin only.
 */
async function httpGet(ctx: Ctx, url: string, opts: { range?: boolean; ifModifiedSince?: number }): Promise<Got> {
  const limit = opts.range ? CVD_HEADER_SIZE : ctx.maxBytes;
  const origin = new URL(url).origin;
  let current = url;
  const controller = new AbortController();
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`no data for ${ctx.timeoutMs} ms`));
    }, ctx.timeoutMs);
  };
  const headers: Record<string, string> = { 'User-Agent': 'vigil (freshclam-compatible ClamAV database updater)' };
  if (opts.range) headers['Range'] = `bytes=0-${CVD_HEADER_SIZE - 1}`;
  if (opts.ifModifiedSince) headers['If-Modified-Since'] = new Date(opts.ifModifiedSince * 1000).toUTCString();
  try {
    arm();
    let res: Response | undefined;
    for (let hop = 0; ; hop++) {
      res = await ctx.fetch(current, { headers, redirect: 'manual', signal: controller.signal });
      if (res.status < 300 || res.status >= 400 || res.status === 304) break;
      const loc = res.headers.get('location');
      await res.body?.cancel().catch(() => undefined);
      if (!loc) return { ok: false, code: FC.EFAILEDGET, message: `${current}: redirect (${res.status}) without a Location` };
      const next = new URL(loc, current);
      if (next.origin !== origin) return { ok: false, code: FC.EFAILEDGET, message: `${current}: redirect to ${next.href} refused (only ${origin} may be contacted)` };
      if (hop + 1 >= MAX_REDIRECTS) return { ok: false, code: FC.EFAILEDGET, message: `${url}: more than ${MAX_REDIRECTS} redirects` };
      current = next.href;
    }
    const status = res.status;
    if (status !== 200 && status !== 206) {
      await res.body?.cancel().catch(() => undefined);
      if (status === 304) return { ok: false, code: FC.UPTODATE, message: `${current}: not modified` };
      if (status === 403) return { ok: false, code: FC.EFORBIDDEN, message: `${current}: forbidden (403)` };
      if (status === 429) return { ok: false, code: FC.ERETRYLATER, message: `${current}: too many requests (429)` };
      if (status === 404) return { ok: false, code: FC.EFAILEDGET, message: `file not found: ${current}` };
      return { ok: false, code: FC.EFAILEDGET, message: `Unexpected response (${status}) from ${current}` };
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (!opts.range && Number.isFinite(declared) && declared > limit) {
      await res.body?.cancel().catch(() => undefined);
      return { ok: false, code: FC.EFAILEDGET, message: `${current}: ${declared} bytes, more than the ${limit}-byte download limit` };
    }
    const chunks: Buffer[] = [];
    let size = 0;
    if (res.body) {
      const reader = res.body.getReader();
      // A read can miss the abort (Node 20's fetch loses it while a body streams): race it.
      const aborted = new Promise<never>((_, reject) => {
        controller.signal.addEventListener('abort', () => { reader.cancel().catch(() => undefined); reject(controller.signal.reason as Error); }, { once: true });
      });
      aborted.catch(() => undefined);
      for (;;) {
        const { done, value } = await Promise.race([reader.read(), aborted]);
        if (done) break;
        arm();
        if (size + value.length > limit) {
          await reader.cancel().catch(() => undefined);
          if (!opts.range) return { ok: false, code: FC.EFAILEDGET, message: `${current}: more than the ${limit}-byte download limit` };
          chunks.push(Buffer.from(value.subarray(0, limit - size)));
          size = limit;
          break;
        }
        chunks.push(Buffer.from(value));
        size += value.length;
      }
    }
    return { ok: true, status, body: Buffer.concat(chunks, size) };
  } catch (e) {
    const why = timedOut ? `no data for ${ctx.timeoutMs} ms` : describeFetchError(e);
    return { ok: false, code: FC.ECONNECTION, message: `Download failed: ${current}: ${why}` };
  } finally {
    if (timer) clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Local database

interface LocalDb {
  /** `NAME.cvd` or `NAME.cld`. */
  file: string;
  header: CvdHeader;
}

function readHeaderOf(path: string): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const buf = Buffer.alloc(CVD_HEADER_SIZE);
    const n = readSync(fd, buf, 0, CVD_HEADER_SIZE, 0);
    return buf.subarray(0, n);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The newer of `NAME.cvd` and `NAME.cld` by header version (the `.cld` wins a tie, as in vigil's loader). */
function currentDb(ctx: Ctx, name: string): LocalDb | undefined {
  let best: LocalDb | undefined;
  for (const file of [`${name}.cld`, `${name}.cvd`]) {
    const head = readHeaderOf(join(ctx.dbDir, file));
    if (!head) continue;
    const parsed = parseCvdHeader(head, file);
    if (!parsed.header) {
      const why = parsed.diagnostics.find((d) => d.severity === 'error')?.message ?? `${file}: unreadable header`;
      ctx.warn(`Ignoring the local ${file}: ${why}`);
      continue;
    }
    if (!best || parsed.header.version > best.header.version) best = { file, header: parsed.header };
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// .cld

/** Member order of sigtool's `dblist[]` (after COPYING); unknown extensions follow, sorted by name. */
const SIGTOOL_ORDER = ['info', 'cfg', 'ign', 'ign2', 'ftm', 'db', 'hdb', 'hdu', 'hsb', 'hsu', 'mdb', 'mdu', 'msb', 'msu', 'ndb', 'ndu', 'ldb', 'ldu', 'sdb', 'zmd', 'rmd', 'idb', 'fp', 'sfp', 'gdb', 'pdb', 'wdb', 'crb', 'cdb', 'imp'];

/** Member order of a built `.cld`: COPYING, NAME.info, NAME.cfg, then sigtool's order. */
export function cldMemberOrder(name: string, members: Iterable<string>): string[] {
  const rank = (m: string): number => {
    if (m === 'COPYING') return -1;
    const dot = m.lastIndexOf('.');
    if (dot > 0 && m.slice(0, dot) === name) {
      const i = SIGTOOL_ORDER.indexOf(m.slice(dot + 1));
      if (i >= 0) return i;
    }
    return SIGTOOL_ORDER.length;
  };
  return [...members].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** One tar member as freshclam's `tar_addfile` writes it: name, octal size and checksum only. */
function tarMember(name: string, data: Buffer): Buffer[] {
  const hdr = Buffer.alloc(512);
  hdr.write(name.slice(0, 99), 0, 'latin1');
  hdr.write(data.length.toString(8), 124, 'latin1');
  let sum = 0;
  for (const b of hdr) sum += b;
  hdr.write((sum + 256).toString(8).padStart(6, '0'), 148, 'latin1');
  const pad = data.length % 512 ? Buffer.alloc(512 - (data.length % 512)) : Buffer.alloc(0);
  return [hdr, data, pad];
}

/**
 * `buildcld`: header = first line of `NAME.info` padded with spaces to 512 bytes, body = plain
 * tar of the files (no end-of-archive blocks, like freshclam). Undefined if the `.info` is
 * missing or its first line does not fit the header.
 */
export function buildCld(name: string, files: ReadonlyMap<string, Buffer>): Buffer | string {
  const info = files.get(`${name}.info`);
  if (!info) return `${name}.info is missing`;
  const nl = info.indexOf(0x0a);
  if (nl < 0 || nl >= CVD_HEADER_SIZE) return `bad format of ${name}.info: its first line does not end within ${CVD_HEADER_SIZE} bytes`;
  if (!files.has('COPYING')) return 'COPYING file not found';
  for (const m of files.keys()) {
    if (Buffer.byteLength(m, 'latin1') > 99) return `member name ${JSON.stringify(m.slice(0, 40))}… is longer than a tar name`;
  }
  const header = Buffer.alloc(CVD_HEADER_SIZE, 0x20);
  info.copy(header, 0, 0, nl);
  const parts: Buffer[] = [header];
  for (const m of cldMemberOrder(name, files.keys())) parts.push(...tarMember(m, files.get(m)!));
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// Files

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function writeDurable(path: string, data: Uint8Array): void {
  const fd = openSync(path, 'wx', 0o644);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// One database from one mirror (updatedb)

interface Candidate {
  /** `NAME.cvd` or `NAME.cld`. */
  file: string;
  bytes: Buffer;
  header: CvdHeader;
}

const firstError = (diags: readonly { severity: string; message: string }[], fallback: string): string =>
  diags.find((d) => d.severity === 'error')?.message ?? fallback;

/** `getcvd`: the whole `NAME.cvd`, verified. */
async function getCvd(ctx: Ctx, name: string, mirror: string, ims: number, remoteVersion: number): Promise<{ code: Code; cvd?: Candidate }> {
  const file = `${name}.cvd`;
  const url = `${mirror}/${file}`;
  const got = await httpGet(ctx, url, { ifModifiedSince: ims });
  if (!got.ok) {
    if (got.code === FC.UPTODATE) {
      ctx.info(`${file} is up-to-date.`);
      return { code: FC.UPTODATE };
    }
    ctx.warn(got.message);
    ctx.error(`Can't download ${file} from ${url}`);
    return { code: got.code };
  }
  if (got.body.length === 0) {
    ctx.error(`Can't download ${file} from ${url}: the server sent an empty file`);
    return { code: FC.EEMPTYFILE };
  }
  const load = loadContainer(got.body, file);
  if (!load.official || !load.header) {
    ctx.error(`Verification: ${file} from ${url}: ${firstError(load.diagnostics, 'not an official database')}`);
    return { code: FC.EBADCVD };
  }
  const cvd = { file, bytes: got.body, header: load.header };
  if (load.header.version < remoteVersion) {
    ctx.info(`The ${file} database downloaded from ${mirror} (version ${load.header.version}) is older than the version advertised (${remoteVersion}).`);
    return { code: FC.EMIRRORNOTSYNC, cvd };
  }
  return { code: FC.SUCCESS, cvd };
}

/** cdiffs from local+1 up to remote, applied to the verified local database; a `.cld` or a decision. */
async function incremental(
  ctx: Ctx, name: string, mirror: string, local: LocalDb, remoteVersion: number,
): Promise<{ kind: 'cld'; cld: Candidate } | { kind: 'fallback'; code: Code } | { kind: 'keep' } | { kind: 'error'; code: Code }> {
  const localVersion = local.header.version;
  let files: Map<string, Buffer> | undefined;
  let ret: Code = FC.SUCCESS;
  let numPatches = 0;
  let localBytes: Buffer | undefined;
  try {
    localBytes = readFileSync(join(ctx.dbDir, local.file));
  } catch (e) {
    ctx.error(`Can't read the local ${local.file}: ${(e as Error).message}`);
    ret = FC.EFAILEDUPDATE;
  }
  if (localBytes) {
    const unpacked = unpackContainer(localBytes, local.file);
    if (!unpacked.ok) {
      ctx.error(`Can't unpack the local ${local.file}: ${unpacked.message}`);
      ret = FC.EFAILEDUPDATE;
    } else {
      files = unpacked.files;
    }
  }
  for (let v = localVersion + 1; files && v <= remoteVersion; v++) {
    const patch = `${name}-${v}.cdiff`;
    const url = `${mirror}/${patch}`;
    let got: Got | undefined;
    for (let attempt = 1; attempt <= ctx.maxAttempts; attempt++) {
      got = await httpGet(ctx, url, {});
      if (got.ok || (got.code !== FC.ECONNECTION && got.code !== FC.EFAILEDGET)) break;
    }
    if (!got!.ok) {
      ctx.warn(got!.message);
      ctx.warn(`Can't download ${patch} from ${url}`);
      ret = got!.code;
      break;
    }
    if (got!.body.length === 0) {
      ctx.info(`Empty script ${patch}, need to download entire database`);
      ret = FC.EEMPTYFILE;
      break;
    }
    const applied = applyCdiff(files, got!.body);
    if (!applied.ok) {
      ctx.error(`Can't apply ${patch} from ${url}: ${applied.message}`);
      ret = FC.EFAILEDUPDATE;
      break;
    }
    files = applied.files;
    numPatches++;
  }
  if (ret === FC.EEMPTYFILE || ret === FC.EFAILEDUPDATE || (ret !== FC.SUCCESS && numPatches === 0 && localVersion < remoteVersion - 1)) {
    if (ret !== FC.EEMPTYFILE) ctx.warn(`Incremental update failed, trying to download ${name}.cvd`);
    return { kind: 'fallback', code: ret };
  }
  if (numPatches === 0) {
    ctx.info(`The database server doesn't have the latest patch for the ${name} database (version ${remoteVersion}). The server will likely have updated if you check again in a few hours.`);
    return { kind: 'keep' };
  }
  if (numPatches < remoteVersion - localVersion) {
    ctx.info(`Downloaded ${numPatches} patches for ${name}, which is fewer than the ${remoteVersion - localVersion} expected patches.`);
    ctx.info("We'll settle for this partial-update, at least for now.");
  }
  const file = `${name}.cld`;
  const built = buildCld(name, files!);
  if (typeof built === 'string') {
    ctx.error(`Incremental update failed. Failed to build ${file}: ${built}`);
    return { kind: 'error', code: FC.EBADCVD };
  }
  const load = loadContainer(built, file);
  if (!load.official || !load.header) {
    ctx.error(`Incremental update failed. The built ${file} does not verify: ${firstError(load.diagnostics, 'not official')}`);
    return { kind: 'error', code: FC.EBADCVD };
  }
  return { kind: 'cld', cld: { file, bytes: built, header: load.header } };
}

/** Temp file in the database directory, database test, fsync, rename; removes the replaced file. */
function install(ctx: Ctx, name: string, cand: Candidate): Code {
  let tmpDir: string;
  try {
    tmpDir = mkdtempSync(join(ctx.dbDir, `.vigil-update-${name}-`));
  } catch (e) {
    ctx.error(`Can't create a temporary directory in ${ctx.dbDir}: ${(e as Error).message}`);
    return FC.EDBDIRACCESS;
  }
  try {
    const tmp = join(tmpDir, cand.file);
    try {
      writeDurable(tmp, cand.bytes);
    } catch (e) {
      ctx.error(`Can't write ${tmp}: ${(e as Error).message}`);
      return FC.EDBDIRACCESS;
    }
    if (ctx.testDatabase) {
      ctx.info(`Testing database: '${tmp}' ...`);
      // freshclam tests with ClamAV's standard options (phishing on, PUA off); hashes are parsed, not kept.
      const set = loadSignatures({ paths: [tmp], phishing: true, hashSink: () => ({ beginFile() {}, internName: () => 0, add() {} }) });
      if (!set.ok) {
        ctx.error(`Database test FAILED: ${firstError(set.diagnostics, 'the database does not load')}`);
        return FC.ETESTFAIL;
      }
      ctx.info('Database test passed.');
    }
    const dest = join(ctx.dbDir, cand.file);
    try {
      renameSync(tmp, dest);
    } catch (e) {
      ctx.error(`Can't rename ${tmp} to ${dest}: ${(e as Error).message}`);
      return FC.EDBDIRACCESS;
    }
    // The other of NAME.cvd/NAME.cld is older than what was just installed (the local database
    // was the newer of the two): remove it, as freshclam removes the file it replaced.
    const other = cand.file.endsWith('.cld') ? `${name}.cvd` : `${name}.cld`;
    try {
      unlinkSync(join(ctx.dbDir, other));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') ctx.warn(`Can't delete the old database file ${other}: ${(e as Error).message}. Please remove it manually.`);
    }
    fsyncDir(ctx.dbDir);
    const h = cand.header;
    ctx.info(`${cand.file} updated (version: ${h.version}, sigs: ${h.sigs}, f-level: ${h.flevel}, builder: ${h.builder})`);
    if (h.flevel > ENGINE_FLEVEL) {
      ctx.warn(`${cand.file} asks for functionality level ${h.flevel}; this engine has ${ENGINE_FLEVEL}. Some signatures may be skipped.`);
    }
    return FC.SUCCESS;
  } finally {
    rmSync(tmpDir, { recursive: true, force: true });
  }
}

async function updateDb(ctx: Ctx, name: string, mirror: string): Promise<{ code: Code; updated: boolean }> {
  const local = currentDb(ctx, name);
  const localVersion = local?.header.version ?? 0;
  const ims = local?.header.stime ?? 0;
  const upToDate = (): { code: Code; updated: boolean } => {
    const h = local!.header;
    ctx.info(`${local!.file} database is up-to-date (version: ${h.version}, sigs: ${h.sigs}, f-level: ${h.flevel}, builder: ${h.builder})`);
    return { code: FC.SUCCESS, updated: false };
  };

  // Remote version from the header of NAME.cvd.
  const headUrl = `${mirror}/${name}.cvd`;
  ctx.info(`Trying to retrieve CVD header from ${headUrl}`);
  const head = await httpGet(ctx, headUrl, { range: true, ifModifiedSince: ims });
  if (!head.ok) {
    if (head.code === FC.UPTODATE) {
      if (!local) {
        ctx.error(`The server claims we're up-to-date, but we don't have a local ${name} database!`);
        return { code: FC.EFAILEDGET, updated: false };
      }
      return upToDate();
    }
    ctx.warn(head.message);
    ctx.warn(`Failed to get ${name} database version information from server: ${mirror}`);
    if (head.code === FC.EFORBIDDEN) {
      ctx.error(`Blocked from using server ${mirror}.`);
      return { code: FC.EFORBIDDEN, updated: false };
    }
    if (head.code === FC.ERETRYLATER) return { code: FC.ERETRYLATER, updated: false };
    ctx.error(`Failed to find ${name} database using server ${mirror}.`);
    return { code: FC.EFAILEDGET, updated: false };
  }
  if (head.body.length < CVD_HEADER_SIZE) {
    ctx.warn(`${headUrl}: Malformed CVD header (too short: ${head.body.length} bytes)`);
    ctx.error(`Failed to find ${name} database using server ${mirror}.`);
    return { code: FC.EFAILEDGET, updated: false };
  }
  const parsed = parseCvdHeader(head.body.subarray(0, CVD_HEADER_SIZE), `${name}.cvd`);
  if (!parsed.header) {
    ctx.warn(`${headUrl}: Malformed CVD header: ${firstError(parsed.diagnostics, 'cannot parse')}`);
    ctx.error(`Failed to find ${name} database using server ${mirror}.`);
    return { code: FC.EFAILEDGET, updated: false };
  }
  ctx.info('OK');
  const remoteVersion = parsed.header.version;
  if (!local) {
    ctx.info(`${name} database available for download (remote version: ${remoteVersion})`);
  } else if (localVersion < remoteVersion) {
    ctx.info(`${name} database available for update (local version: ${localVersion}, remote version: ${remoteVersion})`);
  } else {
    if (remoteVersion < localVersion) {
      ctx.warn(`${mirror} offers ${name} version ${remoteVersion}, older than the local ${local.file} (version ${localVersion}); keeping the local database`);
    }
    return upToDate();
  }

  let status: Code = FC.SUCCESS;
  let cand: Candidate | undefined;
  const whole = async (): Promise<{ code: Code; updated: boolean } | undefined> => {
    const r = await getCvd(ctx, name, mirror, ims, remoteVersion);
    if (r.code === FC.UPTODATE) {
      ctx.warn(`Expected newer version of ${name} database but the server's copy is not newer than our local file (version ${localVersion}).`);
      return { code: FC.SUCCESS, updated: false };
    }
    if (r.code === FC.EMIRRORNOTSYNC) status = FC.EMIRRORNOTSYNC;
    else if (r.code !== FC.SUCCESS) return { code: r.code, updated: false };
    cand = r.cvd;
    return undefined;
  };

  if (!local || !ctx.scripted) {
    const stop = await whole();
    if (stop) return stop;
  } else {
    const inc = await incremental(ctx, name, mirror, local, remoteVersion);
    if (inc.kind === 'keep') return { code: FC.SUCCESS, updated: false };
    if (inc.kind === 'error') return { code: inc.code, updated: false };
    if (inc.kind === 'cld') {
      cand = inc.cld;
    } else {
      const stop = await whole();
      if (stop) return stop;
      if (status === FC.EMIRRORNOTSYNC) {
        // No retry with cdiffs after a fallback (it could loop): settle for the older .cvd.
        ctx.warn(`Received an older ${name} CVD than was advertised. Incremental updates either failed or are disabled, so we'll have to settle for a slightly out-of-date database.`);
        status = FC.SUCCESS;
      }
    }
  }
  if (!cand) return { code: FC.EFAILEDUPDATE, updated: false };
  if (local && cand.header.version <= localVersion) {
    ctx.warn(`${cand.file} from ${mirror} is version ${cand.header.version}, not newer than the local ${local.file} (version ${localVersion}); keeping the local database`);
    return { code: status, updated: false };
  }
  const code = install(ctx, name, cand);
  if (code !== FC.SUCCESS) return { code, updated: false };
  return { code: status, updated: true };
}

// ---------------------------------------------------------------------------------------------
// Entry point (fc_update_databases / fc_update_database)

const DB_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function ctime(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getDay()]} ${months[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
}

/**
 * Updates each database from the first mirror that can serve it, in order. Returns freshclam's
 * exit code: 0 when every database is up to date or was updated, else the code of the first
 * database that failed on every mirror (later databases are not tried, as in freshclam):
 * 3 bad directory, 6 empty file, 7 refused database, 8 database test failed, 10 cannot write the
 * directory, 11 download failed (connection failures and HTTP errors end here), 16 bad options,
 * 17 forbidden.
 */
export async function updateClamav(opts: ClamavUpdateOptions, out: UpdateOutput): Promise<number> {
  const ctx: Ctx = {
    dbDir: opts.dbDir,
    fetch: opts.fetch ?? globalThis.fetch,
    maxBytes: opts.maxBytes ?? DEFAULT_MAX_BYTES,
    timeoutMs: opts.timeoutMs ?? 60_000,
    maxAttempts: Math.max(1, Math.floor(opts.maxAttempts ?? 3)),
    retryDelayMs: opts.retryDelayMs ?? 5000,
    scripted: opts.scriptedUpdates ?? true,
    testDatabase: opts.testDatabase ?? true,
    info: (s) => out.stdout.write(s + '\n'),
    warn: (s) => out.stderr.write(`WARNING: ${s}\n`),
    error: (s) => out.stderr.write(`ERROR: ${s}\n`),
  };
  const names = opts.names ?? [...DEFAULT_DATABASES];
  const mirrors: string[] = [];
  for (const m of opts.mirrors) {
    let u: URL;
    try {
      u = new URL(m);
    } catch {
      ctx.error(`Invalid mirror URL ${JSON.stringify(m)}`);
      return FC.EARG;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      ctx.error(`Mirror ${m}: only http: and https: mirrors are supported`);
      return FC.EARG;
    }
    if (u.search || u.hash || u.username || u.password) {
      ctx.error(`Mirror ${m}: a mirror URL may not carry a query, a fragment or credentials`);
      return FC.EARG;
    }
    mirrors.push(u.href.replace(/\/+$/, ''));
  }
  if (mirrors.length === 0) {
    ctx.error('No mirror given');
    return FC.EARG;
  }
  for (const n of names) {
    if (!DB_NAME_RE.test(n)) {
      ctx.error(`Invalid database name ${JSON.stringify(n)}`);
      return FC.EARG;
    }
  }
  if (!Number.isSafeInteger(ctx.maxBytes) || ctx.maxBytes < CVD_HEADER_SIZE || !(ctx.timeoutMs > 0)) {
    ctx.error('maxBytes must be an integer of at least 512 and timeoutMs positive');
    return FC.EARG;
  }
  try {
    mkdirSync(ctx.dbDir, { recursive: true });
    // Probe that the directory is writable before downloading anything.
    const probe = join(ctx.dbDir, `.vigil-probe-${randomBytes(6).toString('hex')}`);
    writeDurable(probe, new Uint8Array(0));
    unlinkSync(probe);
  } catch (e) {
    ctx.error(`Can't use the database directory ${ctx.dbDir}: ${(e as Error).message}`);
    return FC.EDIRECTORY;
  }

  ctx.info(`ClamAV update process started at ${ctime((opts.now ?? (() => new Date()))())}`);
  for (const name of names) {
    const code = await updateOne(ctx, name, mirrors);
    if (code !== FC.SUCCESS) {
      ctx.error(`Database update process failed: ${FC_TEXT[code] ?? `code ${code}`}`);
      ctx.error('Update failed.');
      return code;
    }
  }
  return FC.SUCCESS;
}

async function updateOne(ctx: Ctx, name: string, mirrors: string[]): Promise<Code> {
  for (let i = 0; i < mirrors.length; i++) {
    const mirror = mirrors[i]!;
    for (let attempt = 1; attempt <= ctx.maxAttempts; attempt++) {
      let r: { code: Code; updated: boolean };
      try {
        r = await updateDb(ctx, name, mirror);
      } catch (e) {
        ctx.error(`Unexpected error when attempting to update ${name} from ${mirror}: ${(e as Error).message}`);
        return FC.EFAILEDUPDATE;
      }
      switch (r.code) {
        case FC.SUCCESS:
          return FC.SUCCESS;
        case FC.ECONNECTION:
        case FC.EBADCVD:
        case FC.EFAILEDGET:
          if (attempt < ctx.maxAttempts) {
            ctx.info(`Trying again in ${Math.round(ctx.retryDelayMs / 1000)} secs...`);
            await sleep(ctx.retryDelayMs);
          } else {
            ctx.info(`Giving up on ${mirror}...`);
            if (i === mirrors.length - 1) {
              ctx.error(`Update failed for database: ${name}`);
              return r.code;
            }
          }
          break;
        case FC.EMIRRORNOTSYNC:
          ctx.info(`Received an older ${name} CVD than was advertised. We'll retry so the incremental update will ensure we're up-to-date.`);
          break;
        case FC.ERETRYLATER:
          ctx.warn(`${mirror} answered 429 (too many requests) for ${name}; try again later.`);
          return FC.SUCCESS;
        default:
          ctx.error(`Unexpected error when attempting to update ${name}: ${FC_TEXT[r.code] ?? `code ${r.code}`}`);
          return r.code;
      }
    }
  }
  return FC.SUCCESS;
}
