/**
 * Golden suite of the YARA semantic checker: each `test/golden/yara-check/<name>.yar` in, `<name>.out`
 * out.
 *
 * The output is every diagnostic of parsing then checking, rendered in yara's stderr shape by
 * render.ts, so a `.out` file reads like `yara`'s own complaint about the same file; a last line
 * counts the checked rules. There is one case per error and warning the checker can raise, plus
 * valid files that must stay silent. `UPDATE_GOLDEN=1` rewrites the `.out` files; review the diff.
 */

import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { expectGolden, goldenDir, listGoldenCases } from './helpers/golden.js';
import { parseYara } from '../src/signatures/yara/parser.js';
import { checkYara } from '../src/signatures/yara/check.js';
import { renderYaraDiagnostics } from '../src/signatures/yara/render.js';
import { YARA_4_2_MODULES } from '../src/signatures/yara/modules-catalog.js';

const dir = goldenDir('yara-check');

for (const c of listGoldenCases(dir, '.yar')) {
  test(`checkYara golden: ${c.name}`, () => {
    const source = readFileSync(c.inPath, 'utf8');
    const file = `${c.name}.yar`;
    const { ast, diagnostics } = parseYara(source, file);
    const checked = checkYara(ast, { modules: YARA_4_2_MODULES, source, file });
    let out = renderYaraDiagnostics([...diagnostics, ...checked.diagnostics], source, ast);
    out += `--- ${checked.rules.length} rule(s) checked\n`;
    expectGolden(c.outPath, out);
  });
}
