/**
 * The "needs a string match" analysis: the conditions it marks are false whenever no string
 * matched (checked by evaluating them with no matches on seeded rules), and it marks the common
 * shapes (`any of them`, `$a and …`, `2 of ($a*)`), not conditions that hold without a match.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../../test/helpers/prng.js';
import { evaluateRules } from './eval.js';
import { scanContext } from './modules/types.js';
import { needsStringMatch } from './prefilter.js';
import { compileYara } from './rules.js';

function rulesOf(text: string) {
  const c = compileYara([{ file: 'p.yar', text }]);
  assert.ok(c.compiled, c.diagnostics.map((d) => d.message).join('\n'));
  return c.compiled.groups[0]!.rules;
}

test('needsStringMatch marks conditions that need a match and leaves the others', () => {
  const rules = rulesOf(`
rule a { strings: $a = "abc" $b = "xyz" condition: any of them }
rule b { strings: $a = "abc" condition: $a and filesize > 10 }
rule c { strings: $a = "abc" $b = "xyz" condition: 2 of ($a, $b) or $b at 5 }
rule d { strings: $a = "abc" condition: not $a }
rule e { strings: $a = "abc" condition: $a or filesize > 10 }
rule f { strings: $a = "abc" condition: #a == 0 }
rule g { strings: $a = "abc" condition: none of them }
rule h { strings: $a = "abc" condition: for all of them : (# == 0) }
rule i { condition: true }
rule j { strings: $a = "abc" condition: 0 of them }
`);
  assert.deepEqual(rules.map((r) => [r.name, needsStringMatch(r)]), [
    ['a', true], ['b', true], ['c', true], ['d', false], ['e', false], ['f', false], ['g', false], ['h', false], ['i', false], ['j', false],
  ]);
});

test('every condition marked by needsStringMatch is false when no string matched (seeded conditions)', () => {
  const rng = new Prng('prefilter');
  const atoms = ['$a', '$b', '$a at 3', '$b in (0..9)', 'any of them', 'all of them', '1 of ($a, $b)', '#a == 0', '#b > 1', 'filesize > 2', 'true', 'not $a', 'none of them', '50% of them', '0 of them', '@a[1] == 0', 'for any of them : (# >= 0)'];
  const exprs: string[] = [];
  const gen = (depth: number): string => {
    if (depth === 0 || rng.chance(0.4)) return rng.pick(atoms);
    return `(${gen(depth - 1)} ${rng.pick(['and', 'or'])} ${gen(depth - 1)})`;
  };
  for (let i = 0; i < 300; i++) exprs.push(gen(3));
  const text = exprs.map((e, i) => `rule r${i} { strings: $a = "abc" $b = "xyz" condition: ${e} or ($a and $b and filesize == 0) }`).join('\n');
  const rules = rulesOf(text);
  const data = Buffer.from('nothing to see');
  const verdicts = evaluateRules(rules, { data, fileSize: data.length, matches: rules.map((r) => r.strings.map(() => [])), externals: {}, scan: scanContext(data, {}) });
  let marked = 0;
  rules.forEach((r, i) => {
    if (!needsStringMatch(r)) return;
    marked++;
    assert.equal(verdicts[i], false, `rule r${i} (${exprs[i]}) is marked but true without matches`);
  });
  assert.ok(marked > 50 && marked < 300, `a fair share is marked (${marked})`);
  assert.ok(verdicts.some((v) => v), 'some conditions hold without matches');
});

test('fixedOffsets: literal strings used only as `$a at N` (same N) are looked for at N only', async () => {
  const rules = rulesOf(`
rule a { strings: $a = "abc" $b = "xyz" $c = { 41 42 } $d = { 41 ?? } condition: $a at 2 and ($b at 4 or $b at 4) and $c at 1 + 1 and $d at 0 }
rule b { strings: $a = "abc" $b = "xyz" $c = "qqq" condition: ($a at 2 or $a at 3) and $b at 0 and #b > 0 and any of ($c) }
rule c { strings: $a = "abc" base64 $b = "xyz" condition: $a at 0 and for any of ($b) : ($ at 7) }
`);
  const { fixedOffsets } = await import('./prefilter.js');
  assert.deepEqual(rules.map((r) => fixedOffsets(r)), [[2, 4, 2, undefined], [undefined, undefined, undefined], [undefined, undefined]]);
  // Scanning: other matches of a fixed-offset string are not reported, as yara reports them.
  const { scanYara, compileYara: compile } = await import('./rules.js');
  const c = compile([{ file: 'f.yar', text: 'rule f { strings: $a = "ab" condition: $a at 2 }' }]);
  const r = scanYara(c.compiled!, Buffer.from('abab--ab'));
  assert.deepEqual(r.matched[0]!.strings[0], [{ offset: 2, length: 2, variant: 0 }]);
});
