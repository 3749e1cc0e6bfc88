/**
 * Ransom notes: the file names and the wording families drop next to encrypted files.
 *
 * In: a file name, and the first bytes of the file. Out: which name and text patterns matched.
 * Why: a note is a late but near-certain signal (reference §4.1: "near-zero FP"). A name alone
 * ("README.txt") proves nothing and a text alone may be an article about ransomware, so the
 * detector gives full weight only to a note-like name with note-like text, and a little weight to
 * strong text under any name.
 */
import { basename, extname } from 'node:path';

/** Extensions notes come in. */
const NOTE_EXTENSIONS = new Set(['.txt', '.html', '.htm', '.hta', '.rtf', '.url', '.inf', '.nfo', '']);

/**
 * Name patterns seen in notes of common families (STOP/Djvu `_readme.txt`, LockBit
 * `Restore-My-Files.txt`, Conti `readme.txt` with `DECRYPT`, Ryuk `RyukReadMe`, WannaCry
 * `@Please_Read_Me@.txt`, GandCrab `-DECRYPT.txt`, Phobos `info.hta`, Dharma `FILES ENCRYPTED.txt`…).
 */
const NAME_PATTERNS: RegExp[] = [
  /decrypt/i,
  /ransom/i,
  /recover(y)?[\s_.-]*(my|your|the|all)?[\s_.-]*(files|data)/i,
  /restore[\s_.-]*(my|your|the|all)?[\s_.-]*(files|data)/i,
  /(files|data)[\s_.-]*(are|were|have been|is)?[\s_.-]*(encrypted|locked|stolen)/i,
  /how[\s_.-]*to[\s_.-]*(back|get|recover|restore|decrypt|unlock|return)/i,
  /unlock[\s_.-]*(my|your)?[\s_.-]*files/i,
  /^[_!@#\s-]*read[\s_.-]*me[_!@#\s-]*(now|first|!|please|for[\s_-]*decrypt)/i,
  /^@?please[\s_.-]*read[\s_.-]*me@?/i,
  /^_readme$/i,
  /^!+[\s_-]*read/i,
  /(readme|read_me|read-me|instructions?)[\s_.-]*(for|to)?[\s_.-]*(decrypt|restore|recover|unlock)/i,
  /^(info|help|important)[\s_.-]*(decrypt|restore|files)/i,
];

/** Phrases of note text (lower-cased input). */
const TEXT_PATTERNS: { name: string; re: RegExp }[] = [
  { name: 'files-encrypted', re: /(your|all( of)?( your)?)\s+(important\s+)?(files|data|documents|network)[^.\n]{0,40}\s(have been|has been|are|were|is)\s+(\w+\s+)?(encrypted|locked)/ },
  { name: 'decrypt', re: /\bdecrypt(ion|or|ing|ed)?\b/ },
  { name: 'payment', re: /\b(bitcoin|btc|monero|xmr|ransom|payment|pay)\b/ },
  { name: 'wallet', re: /\b(bc1[02-9ac-hj-np-z]{20,70}|[13][1-9a-hj-np-za-km-z]{25,34}|4[0-9ab][1-9a-hj-np-za-km-z]{93})\b/i },
  { name: 'onion', re: /\b[a-z2-7]{16}(?:[a-z2-7]{40})?\.onion\b/ },
  { name: 'tor', re: /\btor\s+browser\b|torproject\.org/ },
  { name: 'key', re: /\b(private|secret|unique|decryption)\s+key\b/ },
  { name: 'id', re: /\b(personal|unique|your)\s+(id|identifier)\b/ },
  { name: 'deadline', re: /\b(\d+\s+(hours|days)|deadline|price\s+(will\s+)?(be\s+)?(doubled|increase))\b/ },
  { name: 'do-not', re: /\bdo\s+not\s+(try\s+to\s+)?(rename|modify|delete|decrypt|use\s+third)/ },
  { name: 'leak', re: /\b(leak|publish(ed)?|data\s+(will\s+be\s+)?(sold|published))\b/ },
];

export interface NoteMatch {
  /** The name looks like a note's. */
  name: boolean;
  /** Text patterns found (by name). */
  text: string[];
}

/** Does this file name look like a ransom note's? */
export function noteName(path: string): boolean {
  const ext = extname(path).toLowerCase();
  if (!NOTE_EXTENSIONS.has(ext)) return false;
  const stem = basename(path, extname(path));
  return NAME_PATTERNS.some((re) => re.test(stem));
}

/** Which note phrases occur in `text` (its first 64 KiB are looked at). */
export function noteText(text: string): string[] {
  const t = text.slice(0, 65536).toLowerCase().replace(/\s+/g, ' ');
  return TEXT_PATTERNS.filter((p) => p.re.test(t)).map((p) => p.name);
}

/** Both judgements on a file's name and the start of its content. */
export function matchNote(path: string, head: Uint8Array): NoteMatch {
  // Notes are ASCII/UTF-8 or UTF-16 text; HTML tags are removed so that phrases split by markup match.
  let text = Buffer.from(head).toString('utf8');
  if (head.length >= 2 && ((head[0] === 0xff && head[1] === 0xfe) || (head[1] === 0 && head[0] !== 0))) {
    text = Buffer.from(head).toString('utf16le');
  }
  text = text.replace(/<[^>]{0,200}>/g, ' ');
  return { name: noteName(path), text: noteText(text) };
}

/**
 * How many phrases make a text a note: with a note-like name, 2 (one of them about encryption or
 * payment); under any other name, 4.
 */
export function isNote(m: NoteMatch): 'strong' | 'weak' | 'none' {
  const core = m.text.includes('files-encrypted') || m.text.includes('decrypt') || m.text.includes('payment');
  if (m.name && m.text.length >= 2 && core) return 'strong';
  if (m.text.length >= 4 && core) return 'weak';
  return 'none';
}
