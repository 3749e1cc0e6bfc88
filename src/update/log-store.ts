/**
 * The transparency log's storage: an append-only file of entries, the bundles they name, and the
 * Merkle tree over the entries, rebuilt when the log opens.
 *
 * In: a log directory and the log's Ed25519 private key; signed bundles to add (each verified
 * against one of the publisher keys the log accepts). Out: signed tree heads, inclusion and
 * consistency proofs, entries by range, stored bundles, and for each added bundle the proof it
 * carries (`BundleProof`).
 * Why: the log is what makes a secret, targeted signature push visible: every bundle a client
 * accepts must be in it, and anyone can replay it.
 *
 * Layout of DIR:
 *   entries.ndjson     one canonical entry per line, appended and fsynced before a proof is given;
 *                      a last line without its newline (a crash mid-append) is cut on open
 *   bundles/HASH.bundle  the bundle (without proof) whose manifest SHA-256 is HASH
 * A bundle already in the log is not added twice: its existing entry's proof is returned.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, ftruncateSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { writeFileAtomic, writeFully } from '../core/newfile.js';
import { MerkleTree } from './merkle.js';
import {
  canonicalEntry, CONSISTENCY_HISTORY, ENTRY_FORMAT, entryLeafHash, LogError, parseEntry, PROOF_FORMAT, signTreeHead, splitProof, toPrivate,
  type BundleProof, type LogEntry, type TreeHead,
} from './transparency.js';
import { BundleError, verifyBundleOrThrow, type KeyInput } from './bundle.js';

const isoSeconds = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export interface LogStoreOptions {
  dir: string;
  key: KeyObject | string | Uint8Array;
  /** Publisher keys whose bundles the log accepts. */
  publishers: KeyInput[];
  now?: () => Date;
}

export class LogStore {
  readonly dir: string;
  readonly #key: KeyObject;
  readonly #publishers: KeyInput[];
  readonly #now: () => Date;
  readonly #tree = new MerkleTree();
  readonly #entries: LogEntry[] = [];
  readonly #byManifest = new Map<string, number>();
  readonly #byLeaf = new Map<string, number>();
  #fd: number;

  constructor(opts: LogStoreOptions) {
    this.dir = opts.dir;
    this.#key = toPrivate(opts.key);
    this.#publishers = opts.publishers;
    this.#now = opts.now ?? (() => new Date());
    mkdirSync(join(this.dir, 'bundles'), { recursive: true, mode: 0o755 });
    const path = join(this.dir, 'entries.ndjson');
    this.#fd = openSync(path, 'a+', 0o644);
    const text = existsSync(path) ? readFileSync(path) : Buffer.alloc(0);
    const end = text.lastIndexOf(0x0a) + 1;
    if (end < text.length) {
      // A crash in the middle of an append: the entry was never acknowledged; cut it.
      ftruncateSync(this.#fd, end);
      fsyncSync(this.#fd);
    }
    let lineNo = 0;
    let at = 0;
    try {
      while (at < end) {
        const nl = text.indexOf(0x0a, at);
        lineNo++;
        const line = text.subarray(at, nl).toString('utf8');
        at = nl + 1;
        let parsed: unknown;
        try { parsed = JSON.parse(line); } catch (e) { throw new LogError('log-io', `${path}:${lineNo}: not JSON: ${(e as Error).message}`); }
        const entry = parseEntry(parsed, `${path}:${lineNo}`);
        if (!canonicalEntry(entry).equals(Buffer.from(line, 'utf8'))) throw new LogError('log-io', `${path}:${lineNo}: entry not in canonical form`);
        this.#push(entry);
      }
    } catch (e) {
      closeSync(this.#fd); // a log that can't be read is not opened: don't leak its descriptor
      throw e;
    }
  }

  #push(entry: LogEntry): number {
    const index = this.#tree.appendLeafHash(entryLeafHash(entry));
    this.#entries.push(entry);
    this.#byManifest.set(entry.manifest_sha256, index);
    this.#byLeaf.set(this.#tree.leafHashAt(index).toString('hex'), index);
    return index;
  }

  get size(): number { return this.#tree.size; }

  /** A tree head of the current tree, signed now. */
  treeHead(): TreeHead {
    return signTreeHead(this.#key, this.size, this.#tree.root(), this.#now().getTime());
  }

  entries(start: number, end: number): LogEntry[] {
    return this.#entries.slice(start, end);
  }

  inclusionProof(index: number, treeSize = this.size): string[] {
    return this.#tree.inclusionProof(index, treeSize).map((h) => h.toString('hex'));
  }

  consistencyProof(first: number, second = this.size): string[] {
    return this.#tree.consistencyProof(first, second).map((h) => h.toString('hex'));
  }

  /** Index of the leaf with this leaf hash (hex), if logged. */
  indexOfLeaf(leafHashHex: string): number | undefined {
    return this.#byLeaf.get(leafHashHex);
  }

  indexOfManifest(manifestHash: string): number | undefined {
    return this.#byManifest.get(manifestHash);
  }

  /** The stored bundle for a manifest hash, if any. */
  bundle(manifestHash: string): Buffer | undefined {
    if (!/^[0-9a-f]{64}$/.test(manifestHash)) return undefined;
    const p = join(this.dir, 'bundles', `${manifestHash}.bundle`);
    return existsSync(p) ? readFileSync(p) : undefined;
  }

  /** The proof of entry `index` in the current tree, with consistency proofs from earlier sizes. */
  proofFor(index: number): BundleProof {
    const entry = this.#entries[index];
    if (entry === undefined) throw new LogError('not-logged', `no entry ${index}`);
    const sth = this.treeHead();
    const consistency = [];
    for (let m = Math.max(1, sth.tree_size - CONSISTENCY_HISTORY); m < sth.tree_size; m++) {
      consistency.push({ from_size: m, path: this.consistencyProof(m, sth.tree_size) });
    }
    return { format: PROOF_FORMAT, entry, leaf_index: index, sth, inclusion: this.inclusionProof(index, sth.tree_size), consistency };
  }

  /**
   * Adds a bundle (its proof trailer, if any, is ignored): verified against the accepted
   * publisher keys, stored, its entry appended and fsynced. Returns its proof.
   */
  add(file: Uint8Array): BundleProof {
    const { bundle } = splitProof(file);
    let verified: ReturnType<typeof verifyBundleOrThrow> | undefined;
    let lastError: BundleError | undefined;
    for (const pub of this.#publishers) {
      try {
        verified = verifyBundleOrThrow(bundle, pub, { now: this.#now() });
        break;
      } catch (e) {
        if (!(e instanceof BundleError)) throw e;
        lastError = e;
        if (e.code !== 'signature-invalid') break;
      }
    }
    if (!verified) {
      throw lastError?.code === 'signature-invalid'
        ? new BundleError('signature-invalid', 'the bundle is not signed by a publisher this log accepts')
        : lastError ?? new BundleError('bad-key', 'the log accepts no publisher key');
    }
    const existing = this.#byManifest.get(verified.manifestHash);
    if (existing !== undefined) return this.proofFor(existing);
    const entry: LogEntry = {
      format: ENTRY_FORMAT, manifest_sha256: verified.manifestHash, publisher: verified.manifest.publisher,
      version: verified.manifest.version, logged: isoSeconds(this.#now()),
    };
    // The bundle first (a bundle without an entry is harmless), then the entry.
    const bpath = join(this.dir, 'bundles', `${verified.manifestHash}.bundle`);
    writeFileAtomic(bpath, bundle);
    const line = Buffer.concat([canonicalEntry(entry), Buffer.from('\n')]);
    const before = fstatSync(this.#fd).size;
    try {
      writeFully(this.#fd, line);
      fsyncSync(this.#fd);
    } catch (e) {
      try { ftruncateSync(this.#fd, before); } catch { /* the cut on the next open repairs it */ }
      throw new LogError('log-io', `can't append to the log: ${(e as Error).message}`);
    }
    return this.proofFor(this.#push(entry));
  }

  close(): void {
    closeSync(this.#fd);
  }
}
