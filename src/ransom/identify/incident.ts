/**
 * Identification of an incident the ransomware shield raised: the files it saw change, the notes
 * it found, a few of the changed files as samples.
 *
 * In: the alert's files and note paths, optionally the knowledge base path. Out: a short summary
 * for the alert (the top candidates with confidence and evidence, what each shares with other
 * families, decryptors), or why identification could not run.
 * Why: the moment an attack is stopped is when the user most needs to know what it was and
 * whether the files can come back; the alert should say so without a second command.
 */
import { basename } from 'node:path';
import type { KnowledgeBase } from '../types.js';
import { activeKnowledgeBasePath, loadKnowledgeBase } from '../kb/store.js';
import { whatToDo } from '../kb/advice.js';
import { compileKb, identify, type KbIndex } from './score.js';
import { gatherSignals } from './signals.js';

export interface IncidentIdentification {
  candidates: { family: string; name: string; confidence: number; evidence: string[]; decryptors: { name: string; url: string }[] }[];
  ambiguous: string[];
  /** What was looked at. */
  looked: { names: number; notes: number; samples: number };
  error?: string;
}

/** How many changed files are read as samples (their first and last 4 KiB). */
export const INCIDENT_SAMPLES = 8;

let cached: { path: string; index: KbIndex; kb: KnowledgeBase } | undefined;

function indexFor(path: string): KbIndex {
  if (cached?.path !== path) {
    const kb = loadKnowledgeBase(path);
    cached = { path, index: compileKb(kb), kb };
  }
  return cached.index;
}

/**
 * Loads and compiles the knowledge base ahead of any incident (a few hundred milliseconds), so that
 * identification at alert time costs only the reading of a few files. Errors wait for the incident.
 */
export function preloadIncidentKb(kbPath?: string): void {
  try { indexFor(kbPath ?? activeKnowledgeBasePath()); } catch { /* reported with the incident */ }
}

/** Identifies the family behind an incident; never throws. */
export function identifyIncident(o: { files: readonly string[]; notes: readonly string[]; kbPath?: string; top?: number }): IncidentIdentification {
  const notes = [...new Set(o.notes)];
  const noteSet = new Set(notes);
  const changed = [...new Set(o.files)].filter((f) => !noteSet.has(f));
  const looked = { names: changed.length, notes: notes.length, samples: Math.min(changed.length, INCIDENT_SAMPLES) };
  try {
    const index = indexFor(o.kbPath ?? activeKnowledgeBasePath());
    const gathered = gatherSignals({ notes, samples: changed.slice(0, INCIDENT_SAMPLES), index });
    gathered.signals.encryptedNames = [...new Set([...gathered.signals.encryptedNames, ...changed.map((f) => basename(f))])];
    const r = identify(gathered.signals, index);
    return {
      candidates: r.candidates.slice(0, o.top ?? 3).map((c) => ({
        family: c.family.id, name: c.family.name, confidence: Math.round(c.confidence * 1000) / 1000,
        evidence: c.evidence.map((e) => `${e.signal}: ${e.detail}${e.sharedBy > 1 ? ` (shared by ${e.sharedBy} families)` : ''}`),
        decryptors: whatToDo(c.family).decryptors.map((d) => ({ name: d.name, url: d.url })),
      })),
      ambiguous: r.ambiguous.map((a) => `${a.signal} is used by ${a.families} families`),
      looked,
    };
  } catch (e) {
    return { candidates: [], ambiguous: [], looked, error: e instanceof Error ? e.message : String(e) };
  }
}
