/**
 * A small glob matcher for the watcher's exclusions.
 *
 * In: a pattern (`**\/*.tmp`, `node_modules/**`, `/var/log/*.gz`, `*.{bak,swp}`, `cache/[a-f]?`) and
 * a path with `/` separators. Out: whether the path matches. Why our own: Node 20's
 * `path.matchesGlob` exists but is experimental (it prints a warning on first use) and its
 * semantics may change; exclusions are security-relevant configuration and must mean the same
 * thing on every Node version.
 *
 * Syntax: `*` any run of characters within one path segment, `?` one character (not `/`),
 * `**` as a whole segment any number of segments (including none), `[abc]`, `[a-z]`, `[!a]` /
 * `[^a]` a character class, `{a,b}` alternatives (not nested), `\x` a literal `x`. Matching is on
 * whole paths (anchored at both ends) and case-sensitive. A leading dot is matched by `*` like any
 * other character (hidden files are not special for exclusions).
 */

/** Compiles a glob to a regular expression (anchored). Throws on an unterminated `[` or `{`, naming the column. */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  let i = 0;
  let inBraces = false;
  const n = pattern.length;
  while (i < n) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        const atStart = i === 0 || pattern[i - 1] === '/';
        let j = i;
        while (pattern[j] === '*') j++;
        const atEnd = j === n || pattern[j] === '/';
        if (atStart && atEnd) {
          if (j === n) {
            // `dir/**`: the directory itself and everything below it; a lone `**`: anything.
            re = re.endsWith('/') ? `${re.slice(0, -1)}(?:/.*)?` : `${re}.*`;
          } else {
            re += '(?:[^/]*/)*'; // `**/`: any number of whole segments
            j++; // the slash is consumed
          }
          i = j;
          continue;
        }
        // `a**b` is two stars within one segment
        re += '[^/]*';
        i = j;
        continue;
      }
      re += '[^/]*';
      i++;
    } else if (c === '?') {
      re += '[^/]';
      i++;
    } else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) throw new Error(`glob ${JSON.stringify(pattern)}: unterminated '[' at column ${i + 1}`);
      let body = pattern.slice(i + 1, close);
      let neg = false;
      if (body.startsWith('!') || body.startsWith('^')) { neg = true; body = body.slice(1); }
      body = body.replace(/[\\\]^]/g, (m) => `\\${m}`);
      re += `(?!/)[${neg ? '^' : ''}${body}]`;
      i = close + 1;
    } else if (c === '{') {
      if (inBraces) throw new Error(`glob ${JSON.stringify(pattern)}: nested '{' at column ${i + 1}`);
      if (pattern.indexOf('}', i) < 0) throw new Error(`glob ${JSON.stringify(pattern)}: unterminated '{' at column ${i + 1}`);
      inBraces = true;
      re += '(?:';
      i++;
    } else if (c === '}' && inBraces) {
      inBraces = false;
      re += ')';
      i++;
    } else if (c === ',' && inBraces) {
      re += '|';
      i++;
    } else if (c === '\\' && i + 1 < n) {
      re += escapeRe(pattern[i + 1]!);
      i += 2;
    } else {
      re += escapeRe(c);
      i++;
    }
  }
  return new RegExp(`^${re}$`, 's');
}

function escapeRe(c: string): string {
  return /[.*+?^${}()|[\]\\]/.test(c) ? `\\${c}` : c;
}

/**
 * An exclusion glob as the watcher applies it: a pattern starting with `/` is matched against the
 * absolute path; any other is matched against the path relative to its watched root, at any depth
 * (as if it began with `**\/`), so that `node_modules/**` excludes every `node_modules` tree and
 * `*.tmp` every `.tmp` file.
 */
export class ExclusionGlob {
  readonly pattern: string;
  private readonly re: RegExp;
  private readonly absolute: boolean;

  constructor(pattern: string) {
    this.pattern = pattern;
    this.absolute = pattern.startsWith('/');
    const p = this.absolute || pattern.startsWith('**/') ? pattern : `**/${pattern}`;
    this.re = globToRegExp(p);
  }

  /** `abs`: the absolute path; `rel`: the same path relative to its root (`/`-separated, no leading slash). */
  matches(abs: string, rel: string): boolean {
    return this.re.test(this.absolute ? abs : rel);
  }
}
