/**
 * The identification report, for people and for tools.
 *
 * In: the identification (ranked candidates, ambiguity statements), the gathered signals and their
 * problems, the knowledge base's description, how many candidates to show, and the advice function
 * (`whatToDo` from kb/advice.ts). Out: plain text (ranked families, each with confidence, evidence
 * and what to do; the ambiguities; what was read and what could not be) or a JSON object with the
 * same content (`vigil-ransom-identify/1`).
 * Why: the user must see why a family was named and how sure that is, and what to do next, before
 * touching any file; tools need the same facts in a stable form.
 */
import type { Candidate, Decryptor, Family, KnowledgeBase } from '../types.js';
import type { Identification } from './score.js';
import { shannonEntropy, type Gathered } from './signals.js';
import { GENERIC_FIRST_AID } from '../kb/advice.js';

/** The family-specific part of the advice (what is not in the generic first aid). */
function specific(firstAid: readonly string[]): string[] {
  return firstAid.filter((a) => !GENERIC_FIRST_AID.includes(a));
}

export type Advise = (family: Family) => { decryptors: Decryptor[]; firstAid: string[] };

export interface ReportInput {
  identification: Identification;
  gathered: Gathered;
  kb: KnowledgeBase;
  kbPath: string;
  top: number;
  advise: Advise;
}


function pct(x: number): string {
  return `${Math.round(x * 100)}%`;
}

function shared(n: number): string {
  return n <= 1 ? 'unique to this family' : `shared by ${n} families`;
}

function plural(n: number, w: string): string {
  return `${n} ${n === 1 ? w : /[^aeiou]y$/.test(w) ? `${w.slice(0, -1)}ies` : `${w}s`}`;
}

function signalSummary(g: Gathered): string[] {
  const s = g.signals;
  const out: string[] = [];
  const names = s.encryptedNames;
  out.push(`Encrypted names: ${names.length}${names.length > 0 ? ` (e.g. ${names.slice(0, 3).map((n) => `\`${n}\``).join(', ')})` : ''}`);
  out.push(`Notes: ${s.notes.length}${s.notes.length > 0 ? ` (${s.notes.slice(0, 5).map((n) => n.name).join(', ')}${s.notes.length > 5 ? ', …' : ''})` : ''}`);
  const contacts = [...s.emails.slice(0, 6), ...s.onions.slice(0, 3)];
  if (contacts.length > 0) out.push(`Contacts: ${contacts.join(', ')}${s.emails.length + s.onions.length > contacts.length ? ', …' : ''}`);
  if (s.btc.length > 0) out.push(`Bitcoin addresses: ${s.btc.slice(0, 5).join(', ')}${s.btc.length > 5 ? ', …' : ''}`);
  if (s.xmr.length > 0) out.push(`Monero addresses: ${s.xmr.slice(0, 3).join(', ')}${s.xmr.length > 3 ? ', …' : ''}`);
  if (s.samples.length > 0) out.push(`Samples: ${s.samples.slice(0, 3).map(sampleLine).join('; ')}${s.samples.length > 3 ? `; and ${s.samples.length - 3} more` : ''}`);
  const w = g.walk;
  if (w) {
    out.push(`Walked ${w.root}: ${plural(w.entries, 'entry')} (${plural(w.files, 'file')}, ${plural(w.dirs, 'directory')}${w.links > 0 ? `, ${plural(w.links, 'symbolic link')} not followed` : ''})${w.capped ? ', stopped at the entry cap' : ''}${w.depthCapped ? ', depth capped' : ''}; ${w.encrypted} look encrypted${w.groups.length > 0 ? ` (${w.groups.map((x) => `${x.extension}: ${x.count}`).join(', ')})` : ''}`);
  }
  return out;
}

/** A sample's size and entropy; head and tail apart when they differ (partial encryption). */
function sampleLine(x: Gathered['signals']['samples'][number]): string {
  const h = shannonEntropy(x.head);
  const t = shannonEntropy(x.tail);
  const partial = x.size > 2 * x.head.length && Math.abs(h - t) > 1.5 && Math.max(h, t) > 7.5;
  const verdict = partial ? `; head ${h.toFixed(2)}, tail ${t.toFixed(2)}: looks partly encrypted` : x.entropy >= 7.5 ? ', looks encrypted' : x.entropy < 6 ? ', looks unencrypted (or encrypted only in parts not sampled)' : '';
  return `${x.name} (${x.size} bytes, entropy ${x.entropy.toFixed(2)} bits/byte${verdict})`;
}

function decryptorLine(d: Decryptor): string {
  return `${d.name} — ${d.url}${d.prerequisites && d.prerequisites.length > 0 ? ` (needs: ${d.prerequisites.join('; ')})` : ''}`;
}

/** The plain-text report. */
export function renderText(r: ReportInput): string {
  const lines: string[] = [];
  const { candidates, ambiguous } = r.identification;
  const shown = candidates.slice(0, r.top);
  lines.push(`Knowledge base: ${r.kbPath} (${plural(r.kb.families.length, 'family')}, built from ${r.kb.built.from}${r.kb.built.version !== undefined ? ` v${r.kb.built.version}` : ''})`);
  lines.push(...signalSummary(r.gathered));
  lines.push('');
  if (shown.length === 0) {
    lines.push('No known family matched these signals.');
    lines.push('');
    lines.push('What to do:');
    for (const a of GENERIC_FIRST_AID) lines.push(`  - ${a}`);
  } else {
    lines.push(`Candidates (${shown.length} of ${candidates.length}):`);
    shown.forEach((c, i) => {
      const syn = c.family.synonyms.length > 0 ? ` (also: ${c.family.synonyms.slice(0, 4).join(', ')})` : '';
      lines.push(`${i + 1}. ${c.family.name}${syn} — confidence ${pct(c.confidence)}, score ${c.score.toFixed(2)}`);
      let ext = 0;
      for (const e of c.evidence) {
        // Only the strongest extension evidence counts (score.ts): the others are shown, not added.
        const again = e.signal === 'extension' && ext++ > 0 ? '; not added: only the strongest extension counts' : '';
        lines.push(`   - ${e.signal}: ${e.detail} [${shared(e.sharedBy)}, weight ${e.weight.toFixed(2)}${again}]`);
      }
      const advice = r.advise(c.family);
      if (advice.decryptors.length > 0) {
        lines.push('   Decryptors:');
        for (const d of advice.decryptors) lines.push(`     - ${decryptorLine(d)}`);
      }
      for (const a of specific(advice.firstAid)) lines.push(`   ! ${a}`);
    });
    const top = shown[0] as Candidate;
    lines.push('');
    lines.push(`What to do now${top.confidence < 0.5 ? ' (whichever family it is: the identification is not certain)' : ''}:`);
    for (const a of GENERIC_FIRST_AID) lines.push(`  - ${a}`);
  }
  if (ambiguous.length > 0) {
    lines.push('');
    lines.push('Ambiguous:');
    for (const a of ambiguous.slice(0, 20)) lines.push(a.signal.startsWith('tie') ? `  - ${a.signal} (${a.families} families score the same)` : `  - ${a.signal} is ${shared(a.families)}`);
    if (ambiguous.length > 20) lines.push(`  - … and ${ambiguous.length - 20} more`);
  }
  if (r.gathered.problems.length > 0) {
    lines.push('');
    lines.push('Problems:');
    for (const p of r.gathered.problems.slice(0, 50)) lines.push(`  - ${p.path}: ${p.message}`);
    if (r.gathered.problems.length > 50) lines.push(`  - … and ${r.gathered.problems.length - 50} more`);
  }
  return lines.join('\n') + '\n';
}

/** The JSON report (format `vigil-ransom-identify/1`). */
export function renderJson(r: ReportInput): unknown {
  const { candidates, ambiguous } = r.identification;
  const s = r.gathered.signals;
  return {
    format: 'vigil-ransom-identify/1',
    identified: candidates.length > 0,
    knowledgeBase: { path: r.kbPath, families: r.kb.families.length, built: r.kb.built },
    candidates: candidates.slice(0, r.top).map((c, i) => {
      const advice = r.advise(c.family);
      return {
        rank: i + 1,
        id: c.family.id,
        name: c.family.name,
        synonyms: c.family.synonyms,
        score: c.score,
        confidence: c.confidence,
        evidence: c.evidence,
        decryptors: advice.decryptors,
        firstAid: advice.firstAid,
        refs: c.family.refs.slice(0, 5),
      };
    }),
    more: Math.max(0, candidates.length - r.top),
    ambiguous,
    signals: {
      encryptedNames: s.encryptedNames.length,
      encryptedExamples: s.encryptedNames.slice(0, 20),
      notes: r.gathered.notes.map((n) => ({ name: n.name, encoding: n.encoding, html: n.html, truncated: n.truncated, binary: n.binary, chars: n.text.length })),
      emails: s.emails,
      onions: s.onions,
      btc: s.btc,
      xmr: s.xmr,
      samples: s.samples.map((x) => ({ name: x.name, size: x.size, entropy: x.entropy })),
    },
    ...(r.gathered.walk ? { walk: r.gathered.walk } : {}),
    problems: r.gathered.problems,
  };
}
