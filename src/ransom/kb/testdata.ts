/**
 * Test helpers for the knowledge base: where the shared MISP galaxy is, and a note perturber.
 *
 * In: the repository layout; a note text and a seed. Out: the galaxy's path (or null when
 * /work/shared is absent); the note with its victim-specific parts changed as another victim's
 * copy would have them (victim ids, amounts, wallet addresses, e-mails, whitespace).
 * Why: the knowledge-base tests and identification's test set perturb notes the same way.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../../core/random.js';

/** The repository root: the nearest directory up from here with a package.json named "vigil". */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      try {
        if ((JSON.parse(readFileSync(p, 'utf8')) as { name?: string }).name === 'vigil') return dir;
      } catch { /* not ours */ }
    }
    dir = dirname(dir);
  }
  throw new Error('repository root (package.json named "vigil") not found');
}

/** The shared MISP ransomware galaxy, or null when the shared data directory is absent. */
export function sharedGalaxyPath(): string | null {
  const p = resolve(repoRoot(), '..', 'shared', 'data', 'misp-galaxy', 'ransomware.json');
  return existsSync(p) ? p : null;
}

export const NO_SHARED = 'the shared data (ROOT/../shared/data/misp-galaxy/ransomware.json) is absent';

const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const HEX = '0123456789abcdef';

/** A note as another victim would receive it: ids, amounts, addresses, contacts and spacing changed. */
export function perturbNote(text: string, seed: number): string {
  const rnd = mulberry32(seed);
  const pick = (alphabet: string, n: number): string => {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    return s;
  };
  // One pass, so that a replacement is never rewritten by a later rule.
  const re = /([a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,})|\b([a-z2-7]{16}(?:[a-z2-7]{40})?)\.onion\b|\b((?:bc1|[13])[1-9A-HJ-NP-Za-km-z]{25,60})\b|\b([0-9a-f]{16,})\b|\b((?=[a-z0-9]*\d)(?=[a-z0-9]*[a-z])[a-z0-9]{8,})\b|([$€£])\s?\d[\d,.]*|\b\d+(?:\.\d+)?\s?(BTC|bitcoins?|USD|dollars)\b/gi;
  let s = text.replace(re, (m, email?: string, onion?: string, btc?: string, hex?: string, id?: string, cur?: string, unit?: string) => {
    if (email) return `${pick(ALNUM, 6 + Math.floor(rnd() * 6))}@${pick('abcdefghijklmnopqrstuvwxyz', 5)}.${rnd() < 0.5 ? 'com' : 'cc'}`;
    if (onion) return `${pick('abcdefghijklmnopqrstuvwxyz234567', onion.length)}.onion`;
    if (btc) return `1${pick(B58, 33)}`;
    if (hex) return pick(HEX, hex.length);
    if (id) return pick(ALNUM, id.length);
    if (cur) return `${cur}${1 + Math.floor(rnd() * 9)}${pick('0123456789', 2 + Math.floor(rnd() * 2))}`;
    if (unit) return `${(rnd() * 3).toFixed(2)} ${unit}`;
    return m;
  });
  // Spacing: doubled spaces, CRLF, a blank line here and there, trailing spaces.
  s = s.replace(/ /g, () => (rnd() < 0.05 ? '  ' : ' ')).replace(/\r?\n/g, () => (rnd() < 0.1 ? '\r\n\r\n' : '\r\n'));
  return `${rnd() < 0.5 ? '\n' : ''}${s}  \n`;
}
