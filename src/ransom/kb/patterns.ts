/**
 * What the knowledge base's name patterns mean, as code: extension templates and note-name
 * wildcards compiled to anchored regular expressions, and the checks a stored regex pattern must
 * pass before it is compiled.
 *
 * In: an `ExtensionPattern` or a note name from the knowledge base. Out: a RegExp (matched
 * against a base file name, case-insensitively), or null with a reason when a pattern is unsafe.
 * Why: the importer writes these patterns and identification reads them; one definition keeps the
 * two in agreement.
 *
 * Template language (`kind: 'template'`): every character is literal, square brackets included,
 * except the placeholders `[ID]` (a victim id: 6..64 letters, digits), `[EMAIL]` (an e-mail
 * address, bare: Dharma's `.id-1E857D00.[a@b.cc].java` is `.id-[ID].[[EMAIL]].[EXT]`), `[EXT]` (1..10
 * letters/digits), `[RANDOM:n]` (exactly n letters/digits), `[ORIGINAL]` (the original name, 1+
 * characters). A template without `[ORIGINAL]` describes the end of the name (like a suffix); with
 * `[ORIGINAL]` it describes the whole name. Literal text is lower case; matching ignores case.
 * Regex patterns (`kind: 'regex'`) are matched against the whole base name with the `i` flag and
 * carry their own anchors. Note names: `*` is any run of characters, everything else literal,
 * case ignored.
 */
import type { ExtensionPattern } from '../types.js';

export const MAX_PATTERN_LENGTH = 1000;

const PLACEHOLDER_RE: Readonly<Record<string, string>> = {
  ID: '[a-z0-9]{6,64}',
  EMAIL: '[a-z0-9._%+-]{1,64}@[a-z0-9-]{1,63}(?:\\.[a-z0-9-]{1,63}){0,8}',
  EXT: '[a-z0-9]{1,10}',
  ORIGINAL: '.+',
};

function escapeRe(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/** The regex source of a template (no anchors, no flags). */
export function templateSource(template: string): string {
  let out = '';
  let last = 0;
  for (const m of template.matchAll(/\[(ID|EMAIL|EXT|ORIGINAL|RANDOM:([1-9][0-9]?))\]/g)) {
    out += escapeRe(template.slice(last, m.index));
    out += m[2] !== undefined ? `[a-z0-9]{${m[2]}}` : (PLACEHOLDER_RE[m[1] as string] as string);
    last = (m.index ?? 0) + m[0].length;
  }
  return out + escapeRe(template.slice(last));
}

/** A template compiled: anchored at the end, and at the start too when it has `[ORIGINAL]`. */
export function compileTemplate(template: string): RegExp {
  const src = templateSource(template);
  return new RegExp(template.includes('[ORIGINAL]') ? `^${src}$` : `${src}$`, 'i');
}

/**
 * Why a regex pattern is refused, or null when it is acceptable: too long, not compilable, a
 * back-reference, a quantified group containing a quantifier or an alternation (`(a+)+`, `(\w*x)*`,
 * `(a|ab)*`: catastrophic backtracking), or more than 12 unbounded quantifiers.
 */
export function unsafeRegexReason(source: string): string | null {
  if (source.length > MAX_PATTERN_LENGTH) return `longer than ${MAX_PATTERN_LENGTH} characters`;
  try { new RegExp(source, 'i'); } catch (e) { return `not a regular expression: ${e instanceof Error ? e.message : String(e)}`; }
  if (/\\[1-9]|\\k</.test(source)) return 'back-references are not allowed';
  // A quantified group that contains a quantifier or an alternation: `(a+)+`, `((a+))+`, `(a|ab)*`.
  const stripped = source.replace(/\\./g, 'x').replace(/\[[^\]]*\]/g, 'x');
  if (nestedQuantifier(stripped)) return 'a quantified group containing a quantifier or an alternation (catastrophic backtracking)';
  if ((stripped.match(/[*+]|\{\d+,\d*\}/g) ?? []).length > 12) return 'more than 12 unbounded quantifiers';
  return null;
}

/** True when a group repeated by `*`, `+` or `{n,}`/`{n,m}` contains a quantifier or `|` (escapes and classes already replaced). */
function nestedQuantifier(src: string): boolean {
  const stack: { quant: boolean; alt: boolean }[] = [];
  const isQuant = (i: number): boolean => src[i] === '*' || src[i] === '+' || (src[i] === '{' && /^\{\d+(?:,\d*)?\}/.test(src.slice(i)));
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '(') {
      stack.push({ quant: false, alt: false });
      if (src[i + 1] === '?') i += src[i + 2] === '<' && src[i + 3] !== '=' && src[i + 3] !== '!' ? src.indexOf('>', i) - i : 2;
    } else if (c === ')') {
      const g = stack.pop();
      if (!g) continue;
      const repeated = isQuant(i + 1);
      if (repeated && (g.quant || g.alt)) return true;
      const parent = stack[stack.length - 1];
      if (parent && (g.quant || repeated)) parent.quant = true;
    } else if (c === '|') {
      const top = stack[stack.length - 1];
      if (top) top.alt = true;
    } else if (isQuant(i) || c === '?') {
      const top = stack[stack.length - 1];
      if (top && c !== '?') top.quant = true;
    }
  }
  return false;
}

/** An extension pattern as a RegExp over a base name, or null (random patterns; unsafe regexes). */
export function compileExtension(p: ExtensionPattern): RegExp | null {
  switch (p.kind) {
    case 'suffix': return new RegExp(`${escapeRe(p.value)}$`, 'i');
    case 'template': return compileTemplate(p.value);
    case 'regex': return unsafeRegexReason(p.value) === null ? new RegExp(p.value, 'i') : null;
    case 'random': return null;
  }
}

/** A note name (with `*` wildcards) as an anchored, case-insensitive RegExp. */
export function compileNoteName(name: string): RegExp {
  return new RegExp(`^${name.split('*').map(escapeRe).join('.*')}$`, 'i');
}
