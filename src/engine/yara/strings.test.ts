/**
 * Tests for YARA string matching (`strings.ts`): unit tests per feature, then a differential test
 * against the `yara` binary.
 *
 * In: string definitions written as YARA source (parsed by the project's parser) and byte buffers.
 * Out: assertions on `findAll` (offsets and lengths), on atoms and `verify`, and, when `yara` is on
 * PATH, equality with the `0xOFF:$id: data` lines of `yara -s` over seeded random rules and data
 * built to contain hits, near misses, overlapping/adjacent, wide, xored and base64 copies.
 * VIGIL_YARA_SEED=<text> replays the differential test with another seed; the default seed is
 * kept passing. Other seeds currently show the known gaps listed in `strings.ts` (alternatives of
 * different lengths) and yara 4.2.3 missing some wide matches of `wide ascii` regexes.
 */

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { Prng } from '../../../test/helpers/prng.js';
import type { StringDef } from '../../signatures/yara/ast.js';
import { parseYara } from '../../signatures/yara/parser.js';
import { base64Forms, compileString, type StringMatch, type StringMatcher } from './strings.js';

const enc = (s: string) => new TextEncoder().encode(s);

function defsOf(source: string): StringDef[] {
  const { ast, diagnostics } = parseYara(source, 't.yar');
  const errs = diagnostics.filter((d) => d.severity === 'error');
  assert.equal(errs.length, 0, errs.map((d) => d.message).join('; '));
  return ast.rules.flatMap((r) => r.strings);
}

function matcher(stringSource: string): StringMatcher {
  const def = defsOf(`rule t { strings: $s = ${stringSource} condition: any of them }`)[0];
  assert.ok(def);
  const r = compileString(def);
  assert.ok(r.matcher, r.diagnostics.map((d) => d.message).join('; '));
  return r.matcher;
}

function find(stringSource: string, data: string | Uint8Array): [number, number][] {
  const bytes = typeof data === 'string' ? enc(data) : data;
  return matcher(stringSource).findAll(bytes).map((m) => [m.offset, m.length]);
}

// ---------------------------------------------------------------------------------------------
// Unit tests

test('text: overlapping and adjacent matches', () => {
  assert.deepEqual(find('"aba"', 'ababa aba'), [[0, 3], [2, 3], [6, 3]]);
});

test('text: nocase', () => {
  assert.deepEqual(find('"aB1" nocase', 'Ab1 ab1 AB2 aB1'), [[0, 3], [4, 3], [12, 3]]);
  const m = matcher('"abcd" nocase');
  assert.equal(m.atoms.length, 16);
});

test('text: wide, ascii wide', () => {
  const data = Uint8Array.from([0x61, 0, 0x62, 0, 0x20, 0x61, 0x62]);
  assert.deepEqual(find('"ab" wide', data), [[0, 4]]);
  assert.deepEqual(find('"ab" wide ascii', data), [[0, 4], [5, 2]]);
});

test('text: fullword (alphanumeric neighbours only; wide checks x\\0 pairs)', () => {
  assert.deepEqual(find('"ab" fullword', 'ab xab ab_ 1ab ab\0'), [[0, 2], [7, 2], [15, 2]]);
  const wide = Uint8Array.from([0x78, 0x61, 0, 0x62, 0, 0x78, 0x20, 0x61, 0, 0x62, 0, 0x7a, 0]);
  assert.deepEqual(find('"ab" wide fullword', wide), [[1, 4]]);
});

test('text: xor reports the xored bytes and includes key 0', () => {
  const data = Uint8Array.from([0x62 ^ 5, 0x63 ^ 5, 0x20, 0x62, 0x63]);
  assert.deepEqual(find('"bc" xor', data), [[0, 2], [3, 2]]);
  assert.deepEqual(find('"bc" xor(5)', data), [[0, 2]]);
  assert.deepEqual(find('"bc" xor(1-4)', data), []);
  assert.equal(matcher('"bc" xor(1-4)').atoms.length, 4);
});

test('text: base64 shifts with trimmed edges', () => {
  assert.deepEqual(
    base64Forms(Array.from(enc('This program cannot'))).map((f) => new TextDecoder().decode(Uint8Array.from(f))),
    ['VGhpcyBwcm9ncmFtIGNhbm5vd', 'RoaXMgcHJvZ3JhbSBjYW5ub3', 'UaGlzIHByb2dyYW0gY2Fubm90'],
  );
  assert.deepEqual(find('"This program cannot" base64', 'xxVGhpcyBwcm9ncmFtIGNhbm5vdA=='), [[2, 25]]);
  const wide = Uint8Array.from(Array.from(enc('VGhpcyBwcm9ncmFtIGNhbm5vd')).flatMap((b) => [b, 0]));
  assert.deepEqual(find('"This program cannot" base64wide', wide), [[0, 50]]);
});

test('ascii before wide at the same offset; fullword can reject the ascii form only', () => {
  const d = Uint8Array.from([0x78, 0x61, 0, 0x20]);
  assert.deepEqual(find('"a" wide ascii', d), [[1, 1]]);
  assert.deepEqual(find('"a" wide ascii fullword', d), [[1, 2]]);
  assert.deepEqual(find('/a/ wide ascii fullword', d), [[1, 2]]);
  // A true regex: the ascii match decides even when fullword rejects it.
  assert.deepEqual(find('/a[ab]?/ wide ascii fullword', d), []);
  assert.deepEqual(find('/a.{0,2}b/ wide ascii', Uint8Array.from([0x61, 0, 0x62, 0, 0x62, 0])), [[0, 3]]);
});

test('text: private is a flag', () => {
  assert.equal(matcher('"ab" private').isPrivate, true);
  assert.equal(matcher('"ab"').isPrivate, false);
});

test('hex: bytes, nibbles, wildcards, negation', () => {
  assert.deepEqual(find('{ 61 ?2 6? ?? }', 'abcd aXcd'), [[0, 4]]);
  assert.deepEqual(find('{ 61 ~62 }', 'ab ac'), [[3, 2]]);
  assert.deepEqual(find('{ 61 ~6? }', 'ab a!'), [[3, 2]]);
});

test('hex: jumps and alternatives report the shortest match from each start', () => {
  assert.deepEqual(find('{ 61 [1-3] 62 }', 'axbbb'), [[0, 3]]);
  assert.deepEqual(find('{ 61 ( 62 62 | 62 ) }', 'abb'), [[0, 2]]);
  assert.deepEqual(find('{ 61 ( 62 | 62 62 ) 7a }', 'abbz'), [[0, 4]]);
  assert.deepEqual(find('{ 61 [-] 63 }', 'abbca c'), [[0, 4], [4, 3]]);
  assert.deepEqual(find('{ 61 [2-] 63 }', 'axcxc'), [[0, 5]]);
  assert.deepEqual(find('{ 61 ( 62 ( 63 | 64 ) | 65 [2] 78 ) 66 }', 'abdf aeyyxf abcf'), [[0, 4], [5, 6], [12, 4]]);
});

test('scan limit: regexes stop at 4096 bytes, chained hex strings (unbounded jump) do not', () => {
  const long = (n: number) => enc(`a${'b'.repeat(n)}c`);
  assert.deepEqual(find('/ab*c/', long(4094)), [[0, 4096]]);
  assert.deepEqual(find('/ab*c/', long(4095)), []);
  assert.deepEqual(find('{ 61 [-] 63 }', long(6000)), [[0, 6002]]);
});

test('regex: leftmost-first match when greedy, shortest otherwise', () => {
  assert.deepEqual(find('/a(bc|b)/', 'abc'), [[0, 2]]);
  assert.deepEqual(find('/a(b|bc)/', 'abc'), [[0, 2]]);
  assert.deepEqual(find('/a(b|bc)c?/', 'abc'), [[0, 3]]);
  assert.deepEqual(find('/a(b|bc)x*?/', 'abc'), [[0, 2]]);
});

test('regex: \\b and \\B in a wide string look at two-byte characters (a word byte and a zero), as yara does', () => {
  // Found by the engine differential test: `/…\W\b/i wide ascii` matched where yara did not,
  // because the boundary was tested on single bytes of the interleaved data.
  const data = enc('V2l3rY abcde a\0b\0c\0 a\0b\0 ,\0a\0b\0c$');
  assert.deepEqual(find('/ab\\b/ wide', data), [[20, 4], [27, 4]]);
  assert.deepEqual(find('/ab\\B/ wide', data), [[13, 4]]);
  assert.deepEqual(find('/\\bab/ wide', data), [[13, 4], [20, 4], [27, 4]]);
});

test('regex: a literal of two or more bytes outside alternations gives the leftmost-first match, not the shortest', () => {
  // Found by the engine differential test: yara and YARA-X both report 6 bytes here (yara
  // verifies forward from the atom `V2l3`, taking the first alternative that matches).
  assert.deepEqual(find('/V2l3((c|[o-t_]Y)|r)/', 'V2l3rY'), [[0, 6]]);
  assert.deepEqual(find('/-ucD(Q|vB|q*?)/ nocase', '-UCDvB'), [[0, 6]]);
  // The literal need not be at a fixed distance from the start (yara verifies backwards too).
  assert.deepEqual(find('/(M|vC)u0Di(:-.|\\w.|c)/s', 'Mu0Dixyz'), [[0, 7]]);
  assert.deepEqual(find('/o{,2}?AK(z\\d|\\D*?k\\w|c{2,3}?[m-p_])(e*?:|Bh)\\S/', 'AKcc_ee:x'), [[0, 9]]);
  // With only a one-byte literal outside, yara's atom comes from inside an alternative.
  assert.deepEqual(find('/a(bc|b)/', 'abc'), [[0, 2]]);
});

test('text: wide and ascii apply before base64 (wide base64 encodes the UTF-16 form)', () => {
  // Found by the engine differential test: vigil ignored `wide` next to `base64`.
  const b64 = (b: Uint8Array) => enc(Buffer.from(b).toString('base64'));
  const wideText = Uint8Array.from(Buffer.from('This program', 'utf16le'));
  const data = Uint8Array.from([...enc('xx '), ...b64(wideText), ...enc(' yy '), ...b64(enc('This program'))]);
  assert.deepEqual(find('"This program" wide base64', data), [[3, 32]]);
  assert.deepEqual(find('"This program" wide ascii base64', data), [[3, 32], [39, 16]]);
  assert.deepEqual(find('"This program" base64', data), [[39, 16]]);
});

test('hex: atom and verify agree', () => {
  const m = matcher('{ 01 02 03 04 05 [2-4] 06 }');
  const data = Uint8Array.from([9, 1, 2, 3, 4, 5, 0, 0, 6]);
  const a = m.atoms[0];
  assert.ok(a && a.bytes.length === 4);
  const pos = a.offset + 1;
  assert.deepEqual(m.verify(data, pos, 0), [{ offset: 1, length: 8, variant: 0 }]);
});

test('regex: plain, nocase, wide, fullword', () => {
  assert.deepEqual(find('/a.{0,3}b/', 'axbbb'), [[0, 5]]);
  assert.deepEqual(find('/ab+/ nocase', 'ABB ab'), [[0, 3], [4, 2]]);
  const wide = Uint8Array.from([0x61, 0, 0x62, 0, 0x62, 0]);
  assert.deepEqual(find('/ab+/ wide', wide), [[0, 6]]);
  assert.deepEqual(find('/ab/ fullword', 'ab xab ab_'), [[0, 2], [7, 2]]);
});

// ---------------------------------------------------------------------------------------------
// Differential test against yara

function yaraAvailable(): boolean {
  const r = spawnSync('yara', ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

interface GenString {
  source: string;
  /** Byte strings that should (mostly) hit, to plant in data. */
  samples: Uint8Array[];
}

const LETTERS = 'abcAB1 _';

function escText(bytes: Uint8Array | number[]): string {
  let s = '';
  for (const b of bytes) {
    if (b === 0x22) s += '\\"';
    else if (b === 0x5c) s += '\\\\';
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return s;
}

function genText(r: Prng): GenString {
  const text = enc(r.word(2, 7, r.chance(0.5) ? 'abc' : LETTERS));
  if (r.chance(0.1)) text[r.int(0, text.length - 1)] = r.pick([0, 0x7f, 0xe9, 0x22, 0x5c]);
  const mods: string[] = [];
  const samples: Uint8Array[] = [text];
  const kind = r.weighted([['plain', 5], ['xor', 2], ['b64', 2]] as const);
  const wideB = (b: Uint8Array) => Uint8Array.from(Array.from(b).flatMap((x) => [x, 0]));
  if (kind === 'plain') {
    if (r.chance(0.4)) {
      mods.push('nocase');
      samples.push(Uint8Array.from(text, (b) => (r.chance(0.5) && b >= 0x61 && b <= 0x7a ? b - 32 : b)));
    }
    if (r.chance(0.4)) {
      mods.push('wide');
      samples.push(wideB(text));
      if (r.chance(0.5)) mods.push('ascii');
    }
    if (r.chance(0.3)) mods.push('fullword');
  } else if (kind === 'xor') {
    const form = r.pick(['xor', 'xor(n)', 'xor(a-b)']);
    let lo = 0;
    let hi = 255;
    if (form === 'xor(n)') {
      lo = hi = r.int(0, 255);
      mods.push(`xor(${lo})`);
    } else if (form === 'xor(a-b)') {
      lo = r.int(0, 200);
      hi = lo + r.int(0, 40);
      mods.push(`xor(${lo}-${hi})`);
    } else mods.push('xor');
    if (r.chance(0.3)) {
      mods.push('wide');
      if (r.chance(0.5)) mods.push('ascii');
    }
    if (r.chance(0.2)) mods.push('fullword');
    const k = r.int(lo, hi);
    const base = mods.includes('wide') && !mods.includes('ascii') ? wideB(text) : text;
    samples.push(Uint8Array.from(base, (b) => b ^ k));
  } else {
    const alphabet = r.chance(0.3) ? r.shuffle(Array.from(enc('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'))) : undefined;
    const which = r.pick(['base64', 'base64wide', 'both']);
    const a = alphabet ? `("${escText(alphabet)}")` : '';
    if (which !== 'base64wide') mods.push(`base64${a}`);
    if (which !== 'base64') mods.push(`base64wide${a}`);
    const pre = r.int(0, 2);
    const plain = Uint8Array.from([...r.bytesFrom(pre, enc('xyz')), ...text, ...r.bytesFrom(r.int(0, 2), enc('xyz'))]);
    const std = Buffer.from(plain).toString('base64');
    const std64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const mapped = enc(std.replace(/[A-Za-z0-9+/]/g, (c) => String.fromCharCode(alphabet ? (alphabet[std64.indexOf(c)] as number) : c.charCodeAt(0))));
    samples.length = 0;
    samples.push(mapped, wideB(mapped));
  }
  if (r.chance(0.1)) mods.push('private');
  return { source: `"${escText(text)}" ${mods.join(' ')}`, samples };
}

function genHexSeq(r: Prng, depth: number, out: { src: string[]; sample: number[][] }, allowUnbounded: boolean): void {
  const n = r.int(1, 4);
  let prevJump = depth > 0; // inside an alternative, a jump may not come first
  for (let i = 0; i < n; i++) {
    const jumpOk = !prevJump && (depth === 0 || i < n - 1);
    const what = r.weighted([
      ['byte', 6],
      ['nib', 1],
      ['any', 1],
      ['not', 0 /* `~XX` needs yara 4.3; the oracle is 4.2.3 */],
      ['jump', jumpOk ? (depth === 0 ? 1.5 : 0.7) : 0],
      ['alt', depth < 2 ? 1 : 0],
    ] as const);
    prevJump = what === 'jump';
    const b = r.pick([0x61, 0x62, 0x63, 0x00, 0x41, r.int(0, 255)]);
    const h = (x: number) => x.toString(16).padStart(2, '0');
    if (what === 'byte') {
      out.src.push(h(b));
      out.sample.push([b]);
    } else if (what === 'nib') {
      if (r.chance(0.5)) out.src.push(`${h(b)[0]}?`);
      else out.src.push(`?${h(b)[1]}`);
      out.sample.push([b]);
    } else if (what === 'any') {
      out.src.push('??');
      out.sample.push([r.pick([0x61, 0x62, 0x20])]);
    } else if (what === 'not') {
      out.src.push(`~${h(b)}`);
      out.sample.push([b ^ 1]);
    } else if (what === 'jump') {
      const lo = r.int(0, 3);
      const form = r.int(0, allowUnbounded ? 3 : 1);
      if (form === 0) out.src.push(`[${Math.max(1, lo)}]`);
      else if (form === 1) out.src.push(`[${lo}-${lo + r.int(1, 3)}]`);
      else if (form === 2) out.src.push(`[${lo}-]`);
      else out.src.push('[-]');
      out.sample.push(Array.from({ length: Math.max(1, lo) }, () => r.pick([0x61, 0x62, 0x63, 0x20])));
    } else {
      const alts = r.int(2, 3);
      const parts: string[] = [];
      let chosen: number[] = [];
      const pick = r.int(0, alts - 1);
      for (let k = 0; k < alts; k++) {
        const sub = { src: [] as string[], sample: [] as number[][] };
        genHexSeq(r, depth + 1, sub, false);
        parts.push(sub.src.join(' '));
        if (k === pick) chosen = sub.sample.flat();
      }
      out.src.push(`( ${parts.join(' | ')} )`);
      out.sample.push(chosen);
    }
  }
}

function genHex(r: Prng): GenString {
  const out = { src: [] as string[], sample: [] as number[][] };
  const first = r.pick([0x61, 0x62, 0x41]);
  out.src.push(first.toString(16));
  out.sample.push([first]);
  genHexSeq(r, 0, out, true);
  const last = r.pick([0x62, 0x63, 0x7a]);
  out.src.push(last.toString(16));
  out.sample.push([last]);
  const priv = r.chance(0.1) ? ' private' : '';
  return { source: `{ ${out.src.join(' ')} }${priv}`, samples: [Uint8Array.from(out.sample.flat())] };
}

function genRegex(r: Prng): GenString {
  const pieces: string[] = [];
  const sample: number[] = [];
  const n = r.int(2, 5);
  for (let i = 0; i < n; i++) {
    const c = r.pick(['a', 'b', 'c', 'x']);
    const form = r.int(0, 6);
    if (form <= 2) {
      pieces.push(c);
      sample.push(c.charCodeAt(0));
    } else if (form === 3) {
      pieces.push(`${c}+`);
      sample.push(c.charCodeAt(0), c.charCodeAt(0));
    } else if (form === 4) {
      pieces.push(`[${c}b]?`);
    } else if (form === 5) {
      pieces.push('.{0,2}');
      sample.push(0x62);
    } else {
      pieces.push(`(${c}|bc)`);
      sample.push(c.charCodeAt(0));
    }
  }
  const mods: string[] = [];
  if (r.chance(0.3)) mods.push('nocase');
  if (r.chance(0.3)) {
    mods.push('wide');
    if (r.chance(0.5)) mods.push('ascii');
  }
  if (r.chance(0.2)) mods.push('fullword');
  if (r.chance(0.1)) mods.push('private');
  const s = Uint8Array.from(sample);
  return { source: `/a${pieces.join('')}/${r.chance(0.1) ? 'i' : ''} ${mods.join(' ')}`, samples: [Uint8Array.from([0x61, ...s]), Uint8Array.from([0x61, ...s].flatMap((x) => [x, 0]))] };
}

function buildData(r: Prng, strings: GenString[], size: number): Uint8Array {
  const out: number[] = [];
  const filler = enc('abc xyzAB1_\0');
  while (out.length < size) {
    const g = r.pick(strings);
    const s = r.pick(g.samples);
    const mode = r.int(0, 5);
    out.push(...r.bytesFrom(r.int(0, 3), filler));
    if (mode === 0) {
      // near miss: one byte changed
      const c = Array.from(s);
      if (c.length > 0) c[r.int(0, c.length - 1)] = r.int(0, 255);
      out.push(...c);
    } else if (mode === 1) {
      // adjacent / overlapping copies
      out.push(...s, ...s);
      if (s.length > 1) out.push(...s.slice(1));
    } else {
      out.push(...s);
    }
  }
  return Uint8Array.from(out);
}

/** `yara -s` data column: printable bytes as-is, others `\xHH` (upper-case hex), at most 512 bytes; hex strings as spaced upper-case hex, at most 64 bytes then ` ...`. */
function renderData(def: StringDef, data: Uint8Array, m: StringMatch): string {
  if (def.kind === 'hex') {
    const shown = data.subarray(m.offset, m.offset + Math.min(m.length, 64));
    const hex = Array.from(shown, (b) => b.toString(16).toUpperCase().padStart(2, '0')).join(' ');
    return m.length > 64 ? `${hex} ...` : hex;
  }
  const bytes = data.subarray(m.offset, m.offset + Math.min(m.length, 512));
  let s = '';
  for (const b of bytes) s += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return s;
}

test('differential: findAll agrees with yara -s', { timeout: 60_000 }, (t) => {
  if (!yaraAvailable()) {
    t.skip('yara not found on PATH: differential test skipped');
    return;
  }
  const root = new Prng(process.env.VIGIL_YARA_SEED ?? 'yara-strings-diff');
  const dir = mkdtempSync(join(tmpdir(), 'vigil-yara-strings-'));
  let compared = 0;
  let matches = 0;
  const failures: string[] = [];
  try {
    const FILES = 6;
    const PER_FILE = 50;
    for (let f = 0; f < FILES; f++) {
      const r = root.fork(`file${f}`);
      const gens: GenString[] = [];
      for (let i = 0; i < PER_FILE; i++) {
        const kind = f % 3 === 0 ? r.weighted([['text', 3], ['hex', 1], ['regex', 1]] as const) : f % 3 === 1 ? 'hex' : r.pick(['text', 'regex'] as const);
        gens.push(kind === 'text' ? genText(r) : kind === 'hex' ? genHex(r) : genRegex(r));
      }
      const src = gens.map((g, i) => `rule r${i} { strings: $s = ${g.source} condition: any of them }`).join('\n');
      const rulePath = join(dir, `rules${f}.yar`);
      writeFileSync(rulePath, src);
      const defs = defsOf(src);
      const matchers = defs.map((d) => {
        const c = compileString(d);
        assert.ok(c.matcher, `${d.id.name}: ${c.diagnostics.map((x) => x.message).join('; ')}`);
        return c.matcher;
      });
      for (let d = 0; d < 3; d++) {
        const data = buildData(r.fork(`data${d}`), gens, 2500);
        const dataPath = join(dir, `data${f}_${d}.bin`);
        writeFileSync(dataPath, data);
        const run = spawnSync('yara', ['-s', rulePath, dataPath], { encoding: 'latin1', maxBuffer: 1 << 28 });
        assert.equal(run.status, 0, `yara failed on rules${f}: ${run.stderr}`);
        const out = run.stdout;
        const got = new Map<string, string[]>();
        let rule = '';
        for (const line of out.split('\n')) {
          if (line === '') continue;
          const m = /^0x([0-9a-f]+):\$s: (.*)$/.exec(line);
          if (m) (got.get(rule) ?? got.set(rule, []).get(rule)!).push(`0x${m[1]}:${m[2]}`);
          else rule = line.split(' ')[0] ?? '';
        }
        matchers.forEach((mt, i) => {
          const def = defs[i] as StringDef;
          const mine = mt.isPrivate ? [] : mt.findAll(data).map((m) => `0x${m.offset.toString(16)}:${renderData(def, data, m)}`);
          const theirs = got.get(`r${i}`) ?? [];
          compared++;
          matches += theirs.length;
          if (mine.join('\n') !== theirs.join('\n')) {
            const a = new Set(mine);
            const b = new Set(theirs);
            failures.push(
              `file ${f} data ${d} r${i} ${gens[i]?.source}\n  only vigil: ${mine.filter((x) => !b.has(x)).slice(0, 4).map((x) => x.slice(0, 120)).join(' | ')}\n  only yara: ${theirs.filter((x) => !a.has(x)).slice(0, 4).map((x) => x.slice(0, 120)).join(' | ')}`,
            );
          }
        });
      }
    }
  } finally {
    if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
  }
  t.diagnostic(`${compared} string×data comparisons, ${matches} yara matches`);
  assert.ok(matches > 500, `too few matches (${matches}) for the test to mean much`);
  assert.equal(failures.length, 0, `${failures.length} disagreements:\n${failures.slice(0, 15).join('\n')}`);
});
