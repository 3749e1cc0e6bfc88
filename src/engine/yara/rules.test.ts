/**
 * The one-pass YARA scan against the reference scan of each string on its own.
 *
 * `scanYara` finds all strings of all rules through one atom index (plus the 1-byte and empty
 * atoms); the reference runs each string's `findAll` separately and evaluates the same
 * conditions. On seeded rules with every kind of string (text with modifiers, hex with jumps and
 * alternatives, regexes, short strings with 1-byte or empty atoms) and data built from them, both
 * must give the same rules and the same matches. The same holds when the atom hits arrive from
 * overlapping windows (as in `vigil scan`), and the scan options (fast mode, match cap, deadline)
 * do what they say.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../../test/helpers/prng.js';
import { AtomIndex } from '../atoms.js';
import { evaluateRules } from './eval.js';
import { scanContext } from './modules/types.js';
import { compileYara, scanYara, scanYaraBlocks, yaraAtoms, YaraLayer, YaraScanTimeout, type CompiledYara, type YaraScanResult } from './rules.js';

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'xy', 'q', 'MZ', 'zulu'];

function stringDef(rng: Prng, i: number): string {
  const w = rng.pick(WORDS);
  const hex = Buffer.from(rng.pick(WORDS), 'latin1').toString('hex').replace(/(..)/g, '$1 ').trim();
  switch (rng.int(0, 7)) {
    case 0: return `$s${i} = "${w}"${rng.pick(['', ' nocase', ' wide', ' wide ascii', ' fullword', ' xor', ' nocase wide'])}`;
    case 1: return `$s${i} = { ${hex} }`;
    case 2: return `$s${i} = { ${hex.slice(0, 5)} [0-6] ${hex.slice(-5)} }`;
    case 3: return `$s${i} = { ( ${hex.slice(0, 5)} | 7A 7A ) ?? ${hex.slice(-2)} }`;
    case 4: return `$s${i} = /${w}[0-9a-f]{0,3}/${rng.pick(['', 'i', 's'])}`;
    case 5: return rng.chance(0.5) ? `$s${i} = /[a-c]+x?/` : `$s${i} = /[0-9a-c]{1,3}${w}/`;
    case 6: return `$s${i} = { ${hex.slice(0, 2)} }`;
    default: return `$s${i} = "${w}" base64`;
  }
}

function generate(rng: Prng): { rules: string; data: Uint8Array[] } {
  const rules: string[] = [];
  for (let r = 0; r < 40; r++) {
    const n = rng.int(1, 4);
    const strs = Array.from({ length: n }, (_, i) => stringDef(rng, i));
    const cond = rng.pick(['any of them', 'all of them', '#s0 >= 2', '$s0 at 0', 'for any i in (1..#s0) : (@s0[i] > 5)', `${Math.min(2, n)} of them`]);
    // Every string must be referenced; `filesize == 0` never holds for the generated data.
    rules.push(`rule r${r} {\n strings:\n  ${strs.join('\n  ')}\n condition:\n  (${cond}) or (all of them and filesize == 0)\n}`);
  }
  const data: Uint8Array[] = [];
  for (let f = 0; f < 12; f++) {
    const parts: Buffer[] = [];
    for (let i = rng.int(2, 40); i > 0; i--) {
      const w = rng.pick(WORDS);
      const form = rng.int(0, 5);
      parts.push(form === 0 ? Buffer.from(w.toUpperCase()) : form === 1 ? Buffer.from(w, 'utf16le') : form === 2 ? Buffer.from(Buffer.from(w).toString('base64')) : Buffer.from(w));
      parts.push(Buffer.from(rng.bytes(rng.int(0, 5))));
    }
    data.push(Buffer.concat(parts));
  }
  return { rules: rules.join('\n'), data };
}

/** Each string scanned alone by its own `findAll`, then the same evaluation. */
function reference(compiled: CompiledYara, data: Uint8Array): YaraScanResult {
  const matched: YaraScanResult['matched'] = [];
  const notMatched: YaraScanResult['notMatched'] = [];
  for (const g of compiled.groups) {
    const matches = g.matchers.map((ms) => ms.map((m) => (m ? m.findAll(data) : [])));
    const verdicts = evaluateRules(g.rules, { data, fileSize: data.length, matches, externals: compiled.externals, scan: scanContext(data, {}) });
    g.rules.forEach((rule, i) => {
      if (verdicts[i]) matched.push({ rule, namespace: g.namespace, strings: matches[i] ?? [] });
      else notMatched.push(rule);
    });
  }
  return { matched, notMatched };
}

function summary(r: YaraScanResult): string[] {
  return r.matched.map((m) => `${m.rule.name}: ${m.strings.map((l) => l.map((x) => `${x.offset}+${x.length}`).join(',')).join(' | ')}`);
}

for (const seed of [1, 2, 3, 4]) {
  test(`one-pass scanYara equals per-string reference (seed ${seed})`, () => {
    const rng = new Prng(seed);
    const { rules, data } = generate(rng);
    const c = compileYara([{ file: 'gen.yar', text: rules }]);
    assert.ok(c.compiled, c.diagnostics.map((d) => d.message).join('\n'));
    const atoms = yaraAtoms(c.compiled);
    assert.ok(atoms.indexed.length > 0, 'some atoms are indexed');
    let matchedRules = 0;
    for (const d of data) {
      const want = summary(reference(c.compiled, d));
      assert.deepEqual(summary(scanYara(c.compiled, d)), want);
      matchedRules += want.length;
      // Hits from overlapping windows, as the shared index delivers them in `vigil scan`.
      const index = new AtomIndex(atoms.indexed);
      const layer: YaraLayer = new YaraLayer(c.compiled, d, {}, true);
      const win = 17, overlap = 6;
      for (let off = 0; off < d.length; off += win - overlap) {
        const view = d.subarray(off, Math.min(d.length, off + win));
        index.scan(view, 0, view.length, (e, p) => layer.onHit(e, off + p));
        if (off + win >= d.length) break;
      }
      assert.deepEqual(summary(layer.finish()), want);
    }
    assert.ok(matchedRules > 0, 'the generated data makes some rules match');
  });
}

test('scan options: fast mode keeps one match per string, the cap bounds the count, a past deadline throws', () => {
  const c = compileYara([{ file: 'o.yar', text: 'rule a { strings: $a = "ab" condition: #a >= 1 }\nrule b { strings: $b = "ab" condition: #b == 3 }' }]);
  assert.ok(c.compiled);
  const data = Buffer.from('xxabyyabzzab');
  assert.deepEqual(scanYara(c.compiled, data).matched.map((m) => m.rule.name), ['a', 'b']);
  const fast = scanYara(c.compiled, data, { fastMode: true });
  assert.deepEqual(fast.matched.map((m) => [m.rule.name, m.strings[0]!.length]), [['a', 1]]);
  const capped = scanYara(c.compiled, data, { maxMatchesPerString: 2 });
  assert.deepEqual(capped.matched.map((m) => m.strings[0]!.map((x) => x.offset)), [[2, 6]]);
  assert.throws(() => scanYara(c.compiled!, data, { deadline: performance.now() - 1 }), YaraScanTimeout);
});

test('case-insensitive, wide and variable-prefix regexes get indexed atoms (every spelling), not a verify-everywhere atom', () => {
  const c = compileYara([{ file: 'a.yar', text: 'rule a { strings: $a = /abcd[0-9]+x/i $b = /Key=[0-9]{2}/ nocase wide $c = /[0-9]+tail/ condition: any of them }' }]);
  assert.ok(c.compiled);
  const atoms = yaraAtoms(c.compiled);
  assert.equal(atoms.everywhere.length, 0, 'no string is verified at every position');
  const tail = atoms.indexed.filter((e) => atoms.entryString[e.part] === 2);
  assert.deepEqual(tail.map((e) => Buffer.from(e.atom.variants[0]!).toString('latin1')), ['tail'], '$c: its literal, at a varying distance from the start');
  assert.equal(atoms.indexed.filter((e) => atoms.entryString[e.part] === 0).length, 16, '$a: 4 letters, 16 spellings');
  const r = scanYara(c.compiled, Buffer.concat([Buffer.from('xx aBcD12x '), Buffer.from('kEy=42', 'utf16le'), Buffer.from(' 77tail')]));
  assert.deepEqual(r.matched[0]!.strings.map((l) => l.map((m) => [m.offset, m.length])), [[[3, 7]], [[11, 12]], [[24, 6], [25, 5]]]);
});

test('compileYara joins the files of a namespace: shared rules, and a false global rule anywhere turns the namespace false', () => {
  const data = new TextEncoder().encode('hello world');
  const names = (r: YaraScanResult) => r.matched.map((m) => `${m.namespace}:${m.rule.name}`);
  const a = { file: 'a.yar', text: 'rule a { strings: $h = "hello" condition: $h }\nprivate rule p { condition: filesize > 5 }' };
  const b = { file: 'b.yar', text: 'rule b { condition: a and p }\nrule c { condition: any of (a, p) and not b }' };
  const ok = compileYara([a, b]);
  assert.deepEqual(ok.diagnostics, []);
  assert.deepEqual(ok.compiled?.groups.map((g) => g.prior ?? 0), [0, 2]);
  assert.deepEqual(names(scanYara(ok.compiled!, data)), ['default:a', 'default:b']);
  // In separate namespaces `a` is unknown to b.yar.
  assert.equal(compileYara([{ ...a, namespace: 'n1' }, { ...b, namespace: 'n2' }]).compiled, undefined);
  // A false global rule in a later file of the namespace turns the earlier file's rules false too,
  // while its references saw their own verdicts; another namespace keeps its matches.
  const g = { file: 'g.yar', text: 'global rule g { condition: filesize > 100 }\nrule r { condition: a }' };
  const other = { file: 'o.yar', text: 'rule o { condition: true }', namespace: 'other' };
  const masked = compileYara([a, other, g]);
  assert.deepEqual(masked.diagnostics, []);
  assert.deepEqual(names(scanYara(masked.compiled!, data)), ['other:o']);
  assert.deepEqual(names(scanYara(masked.compiled!, new Uint8Array(200).fill(0x41))), ['other:o', 'default:g']);
});

test('compileYara checks the rules around a syntax error and reports their errors', () => {
  const r = compileYara([{ file: 's.yar', text: 'rule a { condition: foo }\nrule b { condition: true and }\nrule c { condition: bar }\n' }]);
  assert.equal(r.compiled, undefined);
  assert.deepEqual(r.diagnostics.map((d) => `${d.location?.line} ${d.message}`).sort(), ['1 undefined identifier "foo"', '2 syntax error', '3 undefined identifier "bar"']);
});

test('scanning in small blocks finds what a whole scan finds, across block borders, with conditions reading past the first block', () => {
  const rng = new Prng('blocks');
  const { rules, data } = generate(rng);
  const extra = `
import "hash"
import "math"
rule reads_far { condition: uint16(filesize - 2) == uint16(filesize - 2) and hash.md5(100, 300) == hash.md5(100, 300) and math.entropy(0, filesize) >= 0 }
rule at_far { strings: $z = "zulu" condition: for any i in (1..#z) : (@z[i] > 150) }
`;
  const c = compileYara([{ file: 'gen.yar', text: rules + extra }]);
  assert.ok(c.compiled, c.diagnostics.map((d) => d.message).join('\n'));
  const summaryWithData = (r: YaraScanResult, bytes: Uint8Array) => summary(r).concat(
    r.matched.flatMap((m) => m.strings.flat().map((x) => Buffer.from(x.data ?? bytes.subarray(x.offset, x.offset + Math.min(x.length, 512))).toString('hex'))),
  );
  let compared = 0;
  for (const d of data) {
    const big = Buffer.concat([d, d, d]);
    const whole = scanYara(c.compiled, big);
    const file = { size: big.length, read: (o: number, n: number) => Uint8Array.from(big.subarray(o, o + n)) };
    for (const block of [37, 64, 1000]) {
      const blocks = scanYaraBlocks(c.compiled, file, {}, block);
      assert.deepEqual(summaryWithData(blocks, big), summaryWithData(whole, big), `block size ${block}, ${big.length} bytes`);
      compared++;
    }
    assert.ok(whole.matched.some((m) => m.rule.name === 'reads_far') || big.length < 400);
  }
  assert.equal(compared, 36);
});

test('string enumerations (YARA 4.3+): loops over strings; mixed items are an error', () => {
  const c = compileYara([{ file: 'e.yar', text: 'rule e { condition: for any x in ("a", "bc") : (x == "bc") }\nrule f { condition: for all x in ("a", "bc") : (x == "bc") }\nrule g { condition: for 2 x in ("ab", "abc", "b") : (x startswith "ab") }' }]);
  assert.ok(c.compiled, c.diagnostics.map((d) => d.message).join('\n'));
  assert.deepEqual(scanYara(c.compiled, Buffer.from('data')).matched.map((m) => m.rule.name), ['e', 'g']);
  const bad = compileYara([{ file: 'm.yar', text: 'rule m { condition: for any x in ("a", 1) : (true) }' }]);
  assert.equal(bad.compiled, undefined);
  assert.deepEqual(bad.diagnostics.map((d) => d.message), ['wrong type for enumeration item']);
});

test('the deadline also stops a condition that loops for long (no string involved)', () => {
  const c = compileYara([{ file: 'l.yar', text: 'rule slow { condition: for all i in (0..100000000) : (i >= 0) }' }]);
  assert.ok(c.compiled);
  assert.throws(() => scanYara(c.compiled!, Buffer.from('data'), { deadline: performance.now() + 50 }), YaraScanTimeout);
});
