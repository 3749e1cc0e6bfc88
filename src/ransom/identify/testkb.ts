/**
 * Hand-built knowledge bases for identification's unit tests.
 *
 * In: family ids and the fields a test needs. Out: a `Family` with every other field empty, and a
 * `KnowledgeBase` around families. Why: unit tests must not depend on the shipped knowledge base.
 */
import type { Family, KnowledgeBase } from '../types.js';

export function fam(id: string, over: Partial<Family> = {}): Family {
  return {
    id, name: over.name ?? id, synonyms: [], extensions: [], noteNames: [], noteHashes: [], emails: [], onions: [], markers: [],
    decryptors: [], refs: [], sources: [], ...over,
  };
}

export function kbOf(families: Family[]): KnowledgeBase {
  return { format: 'vigil-ransom-kb/1', built: { from: 'test', at: '2026-11-29T00:00:00Z' }, families };
}
