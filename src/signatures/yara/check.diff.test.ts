/**
 * Differential test of the YARA semantic checker against the `yara` command: seeded rule files in,
 * agreement on accept/refuse and on the first error's text out.
 *
 * The generator writes files that parse: a few rules built from valid condition terms (strings,
 * counts, offsets, rule references, module calls, loops, arithmetic), every string referenced.
 * Half the files then receive exactly one semantic fault drawn from the checker's catalogue
 * (undefined string, unknown module, type mismatch, division by zero, duplicated loop variable…).
 * `yara -w FILE /dev/null` compiles each file; vigil must refuse exactly the files yara refuses,
 * and the message of vigil's first error must equal yara's, except for the differences listed in
 * KNOWN_DIFFERENCES (printed, not failed). Only syntax yara 4.2.3 knows is generated.
 * `VIGIL_YARA_CHECK_SEED` and `VIGIL_YARA_CHECK_COUNT` replay or widen a run; skipped with a message
 * when `yara` is not on PATH.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../../../test/helpers/prng.js';
import { parseYara } from './parser.js';
import { checkYara } from './check.js';
import { YARA_4_2_MODULES, type ArgCode, type ModuleType } from './modules-catalog.js';

const SEED = Number(process.env.VIGIL_YARA_CHECK_SEED ?? '20261129') >>> 0;
const COUNT = Number(process.env.VIGIL_YARA_CHECK_COUNT ?? '200');

/** Faults whose first message differs from yara's on purpose or by a known limit; see the report. */
/** External variables given to both: `-d` on yara's command line, `externals` to vigil. */
const EXTERNALS = { ext_int: 5, ext_str: 'abc', ext_bool: true, ext_float: 2.5 };
const DEFINE_ARGS = Object.entries(EXTERNALS).flatMap(([k, v]) => ['-d', `${k}=${v}`]);

const KNOWN_DIFFERENCES = new Set<string>([]);

function yaraAvailable(): boolean {
  return spawnSync('yara', ['--version'], { encoding: 'utf8' }).status === 0;
}

interface RuleDraft {
  name: string;
  strings: string[];
  terms: string[];
}

interface FileDraft {
  imports: Set<string>;
  rules: RuleDraft[];
  fault?: string;
}

function validTerm(rng: Prng, r: RuleDraft, earlier: string[], imports: Set<string>): string {
  const s = r.strings.length > 0 ? rng.pick(r.strings).slice(1) : undefined;
  const n = rng.int(1, 200);
  const options: (() => string | undefined)[] = [
    () => (s ? `$${s}` : undefined),
    () => (s ? `#${s} > ${rng.int(0, 3)}` : undefined),
    () => (s ? `$${s} at ${n}` : undefined),
    () => (s ? `$${s} in (0..${n})` : undefined),
    () => (s ? `@${s}[1] == ${n}` : undefined),
    () => (s ? `!${s}[1] > 0` : undefined),
    () => (s ? `for all of ($${s}) : (# > 0)` : undefined),
    () => `filesize > ${n}`,
    () => rng.pick([`ext_int > ${n}`, `ext_str contains "${rng.word(1, 2)}"`, 'ext_bool', `ext_float < ${n}.5`]),
    () => `uint16(0) == 0x5a4d`,
    () => `for any i in (1..${rng.int(1, 5)}) : (i == ${n})`,
    () => `for any i in (1, 2, 3) : (i * 2 == ${n})`,
    () => `${n} \\ ${rng.int(1, 9)} == ${rng.int(0, 9)}`,
    () => `${n} % ${rng.int(1, 9)} == 1`,
    () => `"${rng.word()}" contains "${rng.word(1, 2)}"`,
    () => `-${n} < 0 and (${n} | 1) > 0`,
    () => (earlier.length > 0 ? rng.pick(earlier) : undefined),
    () => {
      imports.add('math');
      return `math.entropy(0, filesize) > ${rng.int(1, 7)}.5`;
    },
    () => {
      imports.add('math');
      return `math.max(${n}, 3) == ${n}`;
    },
    () => {
      imports.add('hash');
      return `hash.md5(0, ${n}) == "${rng.word()}"`;
    },
    () => {
      imports.add('pe');
      return `for any sec in pe.sections : (sec.name == ".${rng.word()}")`;
    },
    () => {
      imports.add('pe');
      return `for any k, v in pe.version_info : (k == "${rng.word()}" and v contains "x")`;
    },
    () => {
      imports.add('pe');
      return `pe.number_of_sections > ${rng.int(0, 5)}`;
    },
  ];
  for (;;) {
    const t = rng.pick(options)();
    if (t !== undefined) return t;
  }
}

type Fault = (rng: Prng, f: FileDraft, r: RuleDraft) => void;

const FAULTS: Record<string, Fault> = {
  'undefined-string': (_rng, _f, r) => r.terms.push('$zz'),
  'undefined-count': (_rng, _f, r) => r.terms.push('#zz > 1'),
  'undefined-offset': (_rng, _f, r) => r.terms.push('@zz[1] == 2'),
  'unreferenced-string': (rng, _f, r) => r.strings.push(`$unused${rng.int(0, 9)}`),
  'anonymous-string': (_rng, _f, r) => {
    r.strings.push('$');
    r.terms.push('$');
  },
  'undefined-identifier': (_rng, _f, r) => r.terms.push('no_such_thing'),
  'module-without-import': (_rng, f, r) => {
    if (!f.imports.has('time')) r.terms.push('time.now() > 0');
    else r.terms.push('cuckoo_x');
  },
  'unknown-module': (_rng, f) => f.imports.add('nosuchmodule'),
  'invalid-field': (_rng, f, r) => {
    f.imports.add('math');
    r.terms.push('math.nosuch(1) == 1');
  },
  'wrong-arguments': (_rng, f, r) => {
    f.imports.add('math');
    r.terms.push('math.entropy("a", 1) > 1.0');
  },
  'type-mismatch': (rng, _f, r) => r.terms.push(`"${rng.word()}" == ${rng.int(1, 9)}`),
  'string-plus-string': (_rng, _f, r) => r.terms.push('"a" + "b" == "ab"'),
  'division-by-zero': (rng, _f, r) => r.terms.push(`${rng.int(1, 99)} ${rng.pick(['\\', '%'])} (${rng.int(1, 5)} - ${0}) * 0 == 1`),
  'float-bitwise': (rng, _f, r) => r.terms.push(`1.5 ${rng.pick(['|', '^', '<<', '>>', '%'])} 2 == 1`),
  'matches-on-integer': (_rng, _f, r) => r.terms.push('filesize matches /a/'),
  'contains-on-integer': (_rng, _f, r) => r.terms.push('filesize contains "a"'),
  'percentage-range': (rng, _f, r) => {
    if (r.strings.length === 0) r.strings.push('$pp');
    r.terms.push(`${rng.pick([0, 101, 150])}% of them`);
  },
  'duplicated-loop-identifier': (_rng, _f, r) => r.terms.push('for any j in (1..2) : (for any j in (1..2) : (j == 1))'),
  'range-bound-type': (_rng, _f, r) => r.terms.push('for any j in ("a"..2) : (j == 1)'),
  'enumeration-item-type': (_rng, _f, r) => r.terms.push('for any j in (1, "a") : (true)'),
  'string-wildcard-matches-nothing': (_rng, _f, r) => r.terms.push('any of ($qq*)'),
  'rule-wildcard-matches-nothing': (_rng, _f, r) => r.terms.push('any of (qq*)'),
  'array-index-type': (_rng, f, r) => {
    f.imports.add('pe');
    r.terms.push('pe.sections["a"].name == "x"');
  },
  'dictionary-loop-arity': (_rng, f, r) => {
    f.imports.add('pe');
    r.terms.push('for any k in pe.version_info : (true)');
  },
  'not-a-function': (_rng, f, r) => {
    f.imports.add('pe');
    r.terms.push('pe.number_of_sections(1) == 1');
  },
  'wrong-usage': (_rng, f, r) => {
    f.imports.add('math');
    r.terms.push('math.entropy > 1');
  },
  'at-with-string': (_rng, _f, r) => {
    if (r.strings.length === 0) r.strings.push('$pp');
    r.terms.push(`${r.strings[0] as string} at "x"`);
  },
  'read-int-string': (_rng, _f, r) => r.terms.push('uint8("a") == 1'),
  'negate-string': (_rng, _f, r) => r.terms.push('-"a" == 1'),
  'rule-in-arithmetic': (rng, _f, r) => r.terms.push(`${r.name} ${rng.pick(['+', '==', '|', 'contains', '%'])} ${rng.pick(['1', '"x"'])}`),
  'rule-used-before-definition': (_rng, f, r) => {
    r.terms.push('zz_later');
    f.rules.push({ name: 'zz_later', strings: [], terms: ['true'] });
  },
  'duplicated-rule': (_rng, f, r) => f.rules.push({ name: r.name, strings: [], terms: ['true'] }),
  'external-wrong-type': (rng, _f, r) =>
    r.terms.push(rng.pick(['ext_int contains "x"', 'ext_str + 1 > 0', 'ext_float % 2 == 0', 'ext_str matches /x/ and ext_int matches /y/'])),
  'integer-overflow': (rng, _f, r) =>
    r.terms.push(rng.pick(['9223372036854775807 + 1 > 0', '4611686018427387904 * 2 > 0', '-9223372036854775807 - 2 < 0', '(3000000000 * 3000000000) * 2 > 0'])),
  'wildcard-rule-set-extended': (_rng, f, r) => {
    r.terms.push('any of (zq*)');
    f.rules.unshift({ name: 'zq_first', strings: [], terms: ['true'] });
    f.rules.push({ name: 'zq_second', strings: [], terms: ['true'] });
  },
  'string-count-in-boolean-compare': (_rng, _f, r) => r.terms.push('#zz == "a"'),
};

function generate(rng: Prng, faulty: boolean): FileDraft {
  const f: FileDraft = { imports: new Set(), rules: [] };
  const names: string[] = [];
  const nRules = rng.int(1, 3);
  for (let k = 0; k < nRules; k++) {
    const r: RuleDraft = { name: `r${k}_${rng.word(2, 5)}`, strings: [], terms: [] };
    const nStrings = rng.int(0, 3);
    for (let s = 0; s < nStrings; s++) r.strings.push(`$s${s}`);
    const nTerms = rng.int(1, 4);
    for (let t = 0; t < nTerms; t++) r.terms.push(validTerm(rng, r, names, f.imports));
    for (const s of r.strings) if (!r.terms.some((t) => t.includes(s.slice(1)))) r.terms.push(s);
    names.push(r.name);
    f.rules.push(r);
  }
  if (faulty) {
    const kind = rng.pick(Object.keys(FAULTS));
    const r = rng.pick(f.rules);
    (FAULTS[kind] as Fault)(rng, f, r);
    f.fault = kind;
  }
  return f;
}

function render(f: FileDraft): string {
  let out = '';
  for (const m of f.imports) out += `import "${m}"\n`;
  for (const r of f.rules) {
    out += `rule ${r.name} {\n`;
    if (r.strings.length > 0) {
      out += '  strings:\n';
      r.strings.forEach((s, k) => (out += `    ${s} = "${s.slice(1) || 'anon'}${k}x"\n`));
    }
    out += `  condition:\n    ${r.terms.join(' and\n    ')}\n}\n`;
  }
  return out;
}

/** The message of yara's first error line, without its location prefix. */
function yaraFirstError(stderr: string): string | undefined {
  for (const line of stderr.split('\n')) {
    if (!/(^|: )error: /.test(line)) continue;
    const m = /^error: rule "[^"]*" in [^:]*\(\d+\): (.*)$/.exec(line) ?? /^[^:]*\(\d+\): error: (.*)$/.exec(line);
    return m ? m[1] : line;
  }
  return undefined;
}

test('checkYara accepts and refuses the same generated rule files as yara, with the same first error', { skip: !yaraAvailable() && 'yara is not installed: differential test of the checker skipped' }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-yara-check-'));
  const differ: string[] = [];
  let refused = 0;
  try {
    const rng = new Prng(SEED);
    for (let i = 0; i < COUNT; i++) {
      const draft = generate(rng.fork(`file${i}`), i % 2 === 1);
      const src = render(draft);
      const path = join(dir, `f${i}.yar`);
      writeFileSync(path, src);
      const y = spawnSync('yara', ['-w', ...DEFINE_ARGS, path, '/dev/null'], { encoding: 'utf8' });
      const yErr = yaraFirstError(y.stderr);
      const { ast, diagnostics } = parseYara(src, `f${i}.yar`);
      assert.deepEqual(diagnostics, [], `seed ${SEED} file ${i} must parse:\n${src}`);
      const checked = checkYara(ast, { modules: YARA_4_2_MODULES, externals: EXTERNALS, source: src, file: `f${i}.yar` });
      const vErr = checked.diagnostics.find((d) => d.severity === 'error')?.message;
      const where = `seed ${SEED} file ${i} (fault ${draft.fault ?? 'none'}):\n${src}`;
      assert.equal(vErr !== undefined, yErr !== undefined, `accept/refuse differs, yara: ${yErr ?? 'accepts'}, vigil: ${vErr ?? 'accepts'}; ${where}`);
      if (yErr !== undefined) refused++;
      if (vErr !== undefined && vErr !== yErr) {
        if (draft.fault && KNOWN_DIFFERENCES.has(draft.fault)) differ.push(`${draft.fault}: yara "${yErr}" vigil "${vErr}"`);
        else assert.fail(`first error differs, yara: ${yErr}, vigil: ${vErr}; ${where}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const d of differ) t.diagnostic(d);
  // The generator must exercise both sides: valid files yara accepts, faulty files it refuses.
  assert.ok(refused > COUNT / 4 && refused < (COUNT * 3) / 4, `${refused} of ${COUNT} files refused`);
});

/** One expression per catalog leaf and per function overload, typed so that a wrong return type fails. */
function catalogProbes(): { module: string; expr: string }[] {
  const out: { module: string; expr: string }[] = [];
  const sample: Record<ArgCode, string> = { i: '1', f: '1.5', s: '"a"', r: '/a/', b: 'true' };
  const use = (type: 'integer' | 'float' | 'string', x: string): string =>
    type === 'integer' ? `${x} % 2 == 0` : type === 'float' ? `${x} \\ 2.0 > 0.5` : `${x} contains "x"`;
  const walk = (module: string, path: string, t: ModuleType): void => {
    switch (t.kind) {
      case 'value':
        out.push({ module, expr: use(t.type, path) });
        break;
      case 'struct':
        for (const [k, v] of Object.entries(t.fields)) walk(module, `${path}.${k}`, v);
        break;
      case 'array':
        walk(module, `${path}[0]`, t.of);
        break;
      case 'dict':
        walk(module, `${path}["k"]`, t.of);
        break;
      case 'function':
        for (const o of t.overloads) out.push({ module, expr: use(o.returns, `${path}(${o.args.map((a) => sample[a]).join(', ')})`) });
        break;
    }
  };
  for (const [name, root] of Object.entries(YARA_4_2_MODULES)) for (const [k, v] of Object.entries(root.fields)) walk(name, `${name}.${k}`, v);
  return out;
}

test('every name, type and overload in the yara 4.2 module catalog compiles in yara and in checkYara', { skip: !yaraAvailable() && 'yara is not installed: catalog check skipped' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-yara-catalog-'));
  try {
    const probes = catalogProbes();
    let src = [...new Set(probes.map((p) => p.module))].map((m) => `import "${m}"\n`).join('');
    probes.forEach((p, k) => (src += `rule p${k} { condition: ${p.expr} }\n`));
    const path = join(dir, 'catalog.yar');
    writeFileSync(path, src);
    const y = spawnSync('yara', ['-w', path, '/dev/null'], { encoding: 'utf8' });
    assert.equal(yaraFirstError(y.stderr), undefined, `yara refuses a catalog probe: ${y.stderr}`);
    const { ast, diagnostics } = parseYara(src, 'catalog.yar');
    assert.deepEqual(diagnostics, []);
    assert.deepEqual(checkYara(ast, { modules: YARA_4_2_MODULES }).diagnostics, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
