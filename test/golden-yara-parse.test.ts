/**
 * Golden suite of the YARA parser: each `test/golden/yara-parse/<name>.yar` in, `<name>.out` out.
 *
 * The output holds the syntax tree as dumped by dump.ts (prefix forms with byte spans), then each
 * diagnostic twice: in yara's own stderr shape (what a user of `yara` would compare) and in the
 * rustc-style shape with code and caret (what a reviewer of the parser wants). `UPDATE_GOLDEN=1`
 * rewrites the `.out` files; review the diff before trusting it.
 */

import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { expectGolden, goldenDir, listGoldenCases } from './helpers/golden.js';
import { parseYara } from '../src/signatures/yara/parser.js';
import { dumpAst } from '../src/signatures/yara/dump.js';
import { renderYaraDiagnostics } from '../src/signatures/yara/render.js';
import { renderDiagnostic } from '../src/core/diagnostics.js';

const dir = goldenDir('yara-parse');

for (const c of listGoldenCases(dir, '.yar')) {
  test(`parseYara golden: ${c.name}`, () => {
    const source = readFileSync(c.inPath, 'utf8');
    const file = `${c.name}.yar`;
    const { ast, diagnostics } = parseYara(source, file, { strictEscape: c.name.includes('strict-escape') });
    let out = dumpAst(ast);
    out += `--- ${diagnostics.length} diagnostic(s)\n`;
    out += renderYaraDiagnostics(diagnostics, source, ast);
    for (const d of diagnostics) out += renderDiagnostic(d) + '\n';
    expectGolden(c.outPath, out);
  });
}
