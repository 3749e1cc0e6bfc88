/**
 * The seams of ransomware help: the knowledge base of families, the signals gathered from an
 * affected machine, and the ranked candidates identification returns.
 *
 * In/Out: types only. Why: the knowledge base (`kb/`), identification (`identify/`), decryption
 * (`decrypt/`) and the shield's alerts are built apart and meet here.
 */

/** How an encrypted file's name is recognised. */
export type ExtensionPattern =
  /** The name ends with this extension (lower case, leading dot), e.g. `.wncry`. */
  | { kind: 'suffix'; value: string }
  /**
   * A template with placeholders, e.g. `.id-[ID].[EMAIL].[EXT]` (Dharma) or `.[EMAIL].ncov`; the
   * placeholders are `[ID]` (a victim id: 6..64 letters/digits), `[EMAIL]`, `[EXT]` (a short
   * extension), `[RANDOM:n]` (n random letters/digits), `[ORIGINAL]` (the original name).
   */
  | { kind: 'template'; value: string }
  /** A regular expression over the whole file name (anchored by the pattern itself). */
  | { kind: 'regex'; value: string }
  /** A random extension of n characters (weak evidence on its own). */
  | { kind: 'random'; length: number };

/** A byte marker in encrypted files (header, footer, key blob). */
export interface FileMarker {
  where: 'start' | 'end' | 'anywhere';
  /** Hex of the marker bytes. */
  hex: string;
  /** Offset from the start (or from the end for `end`), when fixed. */
  offset?: number;
  description: string;
}

export interface Decryptor {
  name: string;
  url: string;
  /** What it needs: an original/encrypted pair, untouched modification times, the note, … */
  prerequisites?: string[];
}

/** One family in the knowledge base. */
export interface Family {
  /** Stable id: a lower-case slug of the name. */
  id: string;
  name: string;
  synonyms: string[];
  extensions: ExtensionPattern[];
  /** Ransom-note file names: exact (case-insensitive) or with `*` wildcards. */
  noteNames: string[];
  /** MinHash signatures of the normalised note texts (see `kb/minhash.ts`). */
  noteHashes: number[][];
  /** Contact strings known for the family (lower case). */
  emails: string[];
  onions: string[];
  markers: FileMarker[];
  encryption?: string;
  decryptors: Decryptor[];
  refs: string[];
  /** Where the facts come from: the MISP galaxy entry uuid, and/or added facts. */
  sources: string[];
}

export interface KnowledgeBase {
  format: 'vigil-ransom-kb/1';
  /** The MISP galaxy version it was built from, and when. */
  built: { from: string; version?: number; at: string };
  families: Family[];
}

/** What identification is given (gathered from notes, samples, a directory). */
export interface Signals {
  /** Encrypted file names (base names). */
  encryptedNames: string[];
  notes: { name: string; text: string }[];
  emails: string[];
  onions: string[];
  btc: string[];
  xmr: string[];
  /** Encrypted samples: first and last bytes, size, entropy. */
  samples: { name: string; size: number; head: Uint8Array; tail: Uint8Array; entropy: number }[];
}

export interface Evidence {
  signal: 'extension' | 'note-name' | 'note-text' | 'email' | 'onion' | 'marker' | 'sample';
  detail: string;
  /** How many families share this signal (1: unique). */
  sharedBy: number;
  weight: number;
}

export interface Candidate {
  family: Family;
  score: number;
  /** 0..1. */
  confidence: number;
  evidence: Evidence[];
}
