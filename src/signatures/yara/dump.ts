/**
 * Syntax tree → stable, indented text, for golden files and for reading a parse by eye.
 *
 * In: a `RuleFile` from `parseYara`. Out: one line per node, children indented by two spaces,
 * each line ending in the node's byte span `@start..end`. Expressions print as prefix forms so
 * precedence is visible (`(+ 1 (* 2 3))`); bytes print as a quoted string with non-printable
 * bytes escaped as `\xHH`. The format is for people and diffs, not for parsing back.
 */

import type { Expr, HexToken, Iterable, Quantifier, RegexLiteral, RuleFile, RuleSet, Span, StringSet } from './ast.js';

function sp(s: Span): string {
  return `@${s.start}..${s.end}`;
}

/** Bytes as a double-quoted string: printable ASCII as is, `"` and `\` escaped, others `\xHH`. */
export function quoteBytes(b: Uint8Array): string {
  let out = '"';
  for (const c of b) {
    if (c === 0x22 || c === 0x5c) out += '\\' + String.fromCharCode(c);
    else if (c >= 0x20 && c < 0x7f) out += String.fromCharCode(c);
    else out += '\\x' + c.toString(16).padStart(2, '0');
  }
  return out + '"';
}

function regex(r: RegexLiteral): string {
  return `/${r.pattern.replace(/\//g, '\\/')}/${r.caseInsensitive ? 'i' : ''}${r.dotAll ? 's' : ''}`;
}

function hex(tokens: HexToken[]): string {
  return tokens
    .map((t) => {
      if (t.kind === 'byte') {
        const hi = t.mask & 0xf0 ? ((t.value >> 4) & 0xf).toString(16).toUpperCase() : '?';
        const lo = t.mask & 0x0f ? (t.value & 0xf).toString(16).toUpperCase() : '?';
        return `${t.negated ? '~' : ''}${hi}${lo}`;
      }
      if (t.kind === 'jump') return `[${t.min}-${t.max ?? ''}]`;
      return `(${t.alternatives.map(hex).join(' | ')})`;
    })
    .join(' ');
}

function quant(q: Quantifier): string {
  if (q.kind === 'count') return expr(q.expr);
  if (q.kind === 'percent') return `(% ${expr(q.expr)})`;
  return q.kind;
}

function set(s: StringSet | RuleSet): string {
  if (s.kind === 'them') return 'them';
  return `(${s.kind} ${s.items.map((i) => i.name + (i.wildcard ? '*' : '')).join(' ')})`;
}

function iter(i: Iterable): string {
  if (i.kind === 'range') return `(.. ${expr(i.lo)} ${expr(i.hi)})`;
  if (i.kind === 'list') return `(list ${i.items.map(expr).join(' ')})`;
  return expr(i.expr);
}

/** One expression as a single-line prefix form. */
export function expr(e: Expr): string {
  switch (e.kind) {
    case 'bool':
      return String(e.value);
    case 'int':
      return e.value.toString();
    case 'float':
      return `${e.value}f`;
    case 'text':
      return quoteBytes(e.value);
    case 'regex':
      return regex(e.regex);
    case 'filesize':
    case 'entrypoint':
      return e.kind;
    case 'ident':
      return e.name;
    case 'field':
      return `(. ${expr(e.object)} ${e.field.name})`;
    case 'index':
      return `([] ${expr(e.object)} ${expr(e.index)})`;
    case 'call':
      return `(call ${[expr(e.callee), ...e.args.map(expr)].join(' ')})`;
    case 'readInt':
      return `(${e.fn} ${expr(e.offset)})`;
    case 'match':
      if (e.at) return `(at ${e.id.name} ${expr(e.at)})`;
      if (e.range) return `(in ${e.id.name} ${iter(e.range)})`;
      return e.id.name;
    case 'count':
      return e.range ? `(in ${e.id.name} ${iter(e.range)})` : e.id.name;
    case 'offset':
    case 'length':
      return e.index ? `([] ${e.id.name} ${expr(e.index)})` : e.id.name;
    case 'unary':
      return `(${e.op} ${expr(e.operand)})`;
    case 'binary':
      return `(${e.op} ${expr(e.left)} ${expr(e.right)})`;
    case 'matches':
      return `(matches ${expr(e.left)} ${regex(e.regex)})`;
    case 'of': {
      const tail = e.at ? ` at ${expr(e.at)}` : e.range ? ` in ${iter(e.range)}` : '';
      return `(of ${quant(e.quantifier)} ${set(e.set)}${tail})`;
    }
    case 'forOf':
      return `(for ${quant(e.quantifier)} of ${set(e.set)} : ${expr(e.body)})`;
    case 'with':
      return `(with ${e.decls.map((d) => `${d.name.name}=${expr(d.value)}`).join(' ')} : ${expr(e.body)})`;
    case 'forIn':
      return `(for ${quant(e.quantifier)} ${e.vars.map((v) => v.name).join(',')} in ${iter(e.iterable)} : ${expr(e.body)})`;
  }
}

/** The whole file, one line per import, include, rule, meta entry, string and condition. */
export function dumpAst(f: RuleFile): string {
  const out: string[] = [];
  for (const i of f.imports) out.push(`import "${i.module}" ${sp(i.span)}`);
  for (const i of f.includes) out.push(`include "${i.path}" ${sp(i.span)}`);
  for (const r of f.rules) {
    const mods = `${r.isGlobal ? 'global ' : ''}${r.isPrivate ? 'private ' : ''}`;
    const tags = r.tags.length ? ` : ${r.tags.map((t) => t.name).join(' ')}` : '';
    out.push(`${mods}rule ${r.name.name}${tags} ${sp(r.span)}`);
    for (const m of r.meta) {
      const v = m.value.kind === 'string' ? quoteBytes(m.value.value) : String(m.value.value);
      out.push(`  meta ${m.key.name} = ${v} ${sp(m.span)}`);
    }
    for (const s of r.strings) {
      const body = s.kind === 'text' ? quoteBytes(s.value) : s.kind === 'hex' ? `{ ${hex(s.tokens)} }` : regex(s.regex);
      const mods = s.modifiers
        .map((m) => {
          if (m.xorRange && (m.xorRange.min !== 0 || m.xorRange.max !== 255)) return `xor(${m.xorRange.min}-${m.xorRange.max})`;
          if (m.alphabet) return `${m.kind}(${quoteBytes(m.alphabet)})`;
          return m.kind;
        })
        .join(' ');
      out.push(`  ${s.kind} ${s.id.name} = ${body}${mods ? ' ' + mods : ''} ${sp(s.span)}`);
    }
    out.push(`  condition ${r.condition ? `${expr(r.condition)} ${sp(r.condition.span)}` : '<none>'}`);
  }
  return out.join('\n') + '\n';
}
