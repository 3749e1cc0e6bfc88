/**
 * What a victim should do next, for an identified family: the known decryptors with what each
 * needs, and first aid that keeps the files recoverable.
 *
 * In: a `Family` from the knowledge base. Out: `{ decryptors, firstAid }` — decryptors ordered
 * with the ones whose prerequisites are listed first, prerequisites de-duplicated; first aid as
 * short imperative sentences, the generic ones first, then those the family's decryptors imply
 * (untouched modification times, an original/encrypted pair, the note, not rebooting).
 * Why: most recoveries fail on what was done before a decryptor was found — files renamed,
 * "repaired", copied without their times, notes deleted, the machine rebooted or wiped. Nothing
 * here downloads or contacts anyone: the victim follows the links themselves.
 */
import type { Decryptor, Family } from '../types.js';

export interface Advice {
  decryptors: Decryptor[];
  firstAid: string[];
}

export const GENERIC_FIRST_AID: readonly string[] = [
  'Isolate the machine: unplug the network cable and turn off Wi-Fi; do not log in to other systems from it. Disconnect backup drives and cloud sync so they are not encrypted too.',
  'Do not rename, move, open in an editor or "repair" the encrypted files; do not run cleaners or random decryptors on them. Work on copies.',
  'Keep the files\' modification times: copy with tools that preserve them (cp -p, rsync -a, robocopy /COPY:DAT); some decryptors recover keys from those times.',
  'Keep the ransom note(s) and any file the ransomware left (including its executable if found): they identify the variant and carry the victim id a decryptor may need.',
  'Keep at least one encrypted file together with an original copy of the same file (from a backup, e-mail or another machine): several decryptors need such a pair.',
  'Before thinking of paying, check for a free decryptor (No More Ransom: https://www.nomoreransom.org/) and ask a professional; payment does not guarantee recovery and may be illegal where sanctions apply.',
  'Report the attack to the police and your national CERT/CSIRT (and to the data-protection authority if personal data is involved); keep logs and evidence for them.',
  'Restore from offline backups only after the machine is cleaned or reinstalled, and after the entry point (RDP, VPN, phishing) is closed and passwords are changed.',
];

/** First aid implied by the family's decryptors and facts (beyond the generic list). */
function specificFirstAid(f: Family): string[] {
  const out: string[] = [];
  const prereq = f.decryptors.flatMap((d) => d.prerequisites ?? []).join('\n').toLowerCase();
  if (/not reboot|rebooted|in memory/.test(prereq)) out.push(`${f.name}: do not reboot or shut down the machine yet; the key may still be in memory for a decryptor.`);
  if (/deletes files|end its process/.test(prereq)) out.push(`${f.name}: it deletes files while it runs; end its process (Task Manager) before anything else, without rebooting.`);
  if (/modification time|mtime/.test(prereq)) out.push(`${f.name}: the decryptor depends on the files' modification times; do not copy, back up or restore the encrypted files without preserving them.`);
  if (/original|pair/.test(prereq)) out.push(`${f.name}: find an original/encrypted pair now (a document also kept in e-mail, a backup or a sample folder).`);
  if (/note|victim id|personal id/.test(prereq)) out.push(`${f.name}: keep the ransom note; the decryptor needs the id in it.`);
  if (/zero-filled|known plaintext/.test(prereq)) out.push(`${f.name}: keep large encrypted files (virtual-disk images, databases) as they are; their zero-filled blocks can reveal the keystream.`);
  if (f.decryptors.length === 0) out.push(`No public decryptor is known for ${f.name}: keep the encrypted files anyway (keys are sometimes released or seized later) and restore from backups.`);
  return out;
}

/** The decryptors of a family and first aid that keeps files recoverable. */
export function whatToDo(family: Family): Advice {
  const seen = new Set<string>();
  const decryptors: Decryptor[] = [];
  for (const d of family.decryptors) {
    const key = `${d.name}\n${d.url}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const prerequisites = d.prerequisites ? [...new Set(d.prerequisites)] : undefined;
    decryptors.push({ name: d.name, url: d.url, ...(prerequisites && prerequisites.length > 0 ? { prerequisites } : {}) });
  }
  // Tools that say what they need first: they come from the added facts and are the most specific.
  const order = decryptors.map((d, i) => ({ d, i }));
  order.sort((a, b) => Number(b.d.prerequisites !== undefined) - Number(a.d.prerequisites !== undefined) || a.i - b.i);
  return { decryptors: order.map((x) => x.d), firstAid: [...GENERIC_FIRST_AID, ...specificFirstAid(family)] };
}
