/**
 * Tests of logical-expression parsing and evaluation and of byte-compare evaluation, including a
 * differential run against clamscan: seeded random signatures whose subsignatures are plain
 * literals, on generated files; a tiny literal matcher in the test supplies the match counts and
 * trigger offsets that the real matcher would.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evalByteCompare, evalLogical, byteCompareAt, parseLogicalExpr } from './lsig.js';
import { parseByteCompare, parseLdb } from '../signatures/clamav/ldb.js';
import type { LdbByteCmpSubsig } from '../signatures/clamav/ldb-types.js';
import type { LogicalExpr } from '../signatures/clamav/types.js';
import { mulberry32 as rng } from '../../test/helpers/prng.js';

const HAVE_CLAMSCAN = spawnSync('clamscan', ['--version'], { encoding: 'utf8' }).status === 0;
const NO_CLAMSCAN = HAVE_CLAMSCAN ? false : 'clamscan is not installed; differential test skipped';

function expr(text: string): LogicalExpr {
  const r = parseLogicalExpr(text);
  assert.ok(r.expr, `${text}: ${r.diagnostics.map((d) => d.message).join('; ')}`);
  return r.expr;
}
const holds = (text: string, counts: number[]) => evalLogical(expr(text), Uint32Array.from(counts));

function bc(text: string): LdbByteCmpSubsig {
  const r = parseByteCompare(text);
  assert.ok('subsig' in r, `${text}: ${'error' in r ? r.error.message : ''}`);
  return r.subsig;
}
const bytes = (s: string) => Buffer.from(s, 'latin1');

describe('parseLogicalExpr', () => {
  test('parseLogicalExpr splits a top-level chain at its first operator, so 0&1|2 is 0&(1|2)', () => {
    assert.deepEqual(expr('0&1|2'), { k: 'and', left: { k: 'sub', index: 0 }, right: { k: 'or', left: { k: 'sub', index: 1 }, right: { k: 'sub', index: 2 } } });
    assert.equal(holds('0&1|2', [0, 0, 1]), false);
  });

  test('parseLogicalExpr splits a parenthesised chain at its last operator, so (0&1|2) is (0&1)|2', () => {
    assert.deepEqual(expr('(0&1|2)'), { k: 'or', left: { k: 'and', left: { k: 'sub', index: 0 }, right: { k: 'sub', index: 1 } }, right: { k: 'sub', index: 2 } });
    assert.equal(holds('(0&1|2)', [0, 0, 1]), true);
  });

  test('parseLogicalExpr reports the highest subsignature index', () => {
    assert.equal(parseLogicalExpr('((0|1|2)>5,2)&(3|1)').maxIndex, 3);
    assert.equal(parseLogicalExpr('0').maxIndex, 0);
  });

  test('parseLogicalExpr attaches a count condition after a parenthesised block to the block', () => {
    assert.deepEqual(expr('(0|1)>2,1'), { k: 'count', expr: { k: 'or', left: { k: 'sub', index: 0 }, right: { k: 'sub', index: 1 } }, op: '>', value: 2, distinct: 1 });
  });

  test('parseLogicalExpr refuses a condition on a parenthesised single index such as (0)>1', () => {
    const r = parseLogicalExpr('(0)>1');
    assert.equal(r.expr, undefined);
    assert.match(r.diagnostics[0]!.message, /missing opening parenthesis/);
  });

  test('parseLogicalExpr refuses missing operands and unbalanced parentheses with their positions', () => {
    for (const [text, msg] of [['&1', /missing left/], ['0&', /missing right/], ['(0|1', /missing closing/], ['0|1)', /missing opening/], ['a', /can't read/], ['0>', /missing number/], ['(0|1)>', /missing number/]] as const) {
      const r = parseLogicalExpr(text, { file: 'x.ldb', line: 3, column: 10 });
      assert.equal(r.expr, undefined, text);
      assert.match(r.diagnostics[0]!.message, msg, text);
      assert.equal(r.diagnostics[0]!.location?.line, 3);
      assert.ok(r.diagnostics[0]!.location!.column >= 10);
    }
  });

  test('parseLogicalExpr reads indices as sscanf %u does: blanks, a sign and trailing junk are accepted', () => {
    assert.deepEqual(expr('0abc'), { k: 'sub', index: 0 });
    assert.deepEqual(expr(' 1|+0'), { k: 'or', left: { k: 'sub', index: 1 }, right: { k: 'sub', index: 0 } });
    assert.deepEqual(expr('0|4294967296'), { k: 'or', left: { k: 'sub', index: 0 }, right: { k: 'sub', index: 0 } });
  });

  test('parseLogicalExpr refuses an index that ClamAV would accept and crash on', () => {
    assert.equal(parseLogicalExpr('0|4294967294').diagnostics[0]!.code, 'clamav.ldb.logic-index-range');
    assert.equal(parseLogicalExpr('0|4294967295').diagnostics[0]!.code, 'clamav.ldb.logic');
  });

  test('parseLogicalExpr ignores a distinct count on a single index and uses the last comparison', () => {
    assert.deepEqual(expr('0>1,5'), { k: 'count', expr: { k: 'sub', index: 0 }, op: '>', value: 1 });
    assert.deepEqual(expr('0>5>1'), { k: 'count', expr: { k: 'sub', index: 0 }, op: '>', value: 1 });
  });

  test('parseLogicalExpr gives up on expressions nested more than 1000 levels deep instead of overflowing the stack', () => {
    const deep = `${'('.repeat(1200)}0${')'.repeat(1200)}`;
    assert.equal(parseLogicalExpr(deep).diagnostics[0]!.code, 'clamav.ldb.logic-too-deep');
    assert.equal(parseLogicalExpr(Array.from({ length: 20000 }, (_, i) => i % 2).join('&')).diagnostics[0]!.code, 'clamav.ldb.logic-too-deep');
    assert.ok(parseLogicalExpr(`${'('.repeat(500)}0${')'.repeat(500)}`).expr);
  });

  test('parseLogicalExpr warns about a leaf like 0(1)5, which parses but is never true', () => {
    const r = parseLogicalExpr('0(1)5');
    assert.equal(r.diagnostics[0]!.code, 'clamav.ldb.logic-never-true');
    assert.equal(evalLogical(r.expr!, Uint32Array.from([9])), false);
  });
});

describe('evalLogical', () => {
  test('evalLogical treats N as "subsignature N matched at least once"', () => {
    assert.equal(holds('0&1', [1, 1]), true);
    assert.equal(holds('0&1', [1, 0]), false);
    assert.equal(holds('0|1', [0, 3]), true);
  });

  test('evalLogical compares counts with =, > and <, and =0 negates', () => {
    assert.equal(holds('0=2', [2]), true);
    assert.equal(holds('0>2', [2]), false);
    assert.equal(holds('0<2', [1]), true);
    assert.equal(holds('0&1=0', [1, 0]), true);
    assert.equal(holds('0&1=0', [1, 1]), false);
  });

  test('evalLogical sums the counts of the true parts of a block', () => {
    assert.equal(holds('(0|1)>3', [2, 2]), true);
    assert.equal(holds('(0|1)>3', [2, 1]), false);
    assert.equal(holds('(0|1)=0', [0, 0]), true);
    assert.equal(holds('(0&1)=0', [1, 0]), true); // the block is false, so its count is 0
  });

  test('evalLogical counts distinct subsignatures for ,M', () => {
    assert.equal(holds('(0|1|2)>1,2', [3, 0, 0]), false);
    assert.equal(holds('(0|1|2)>1,2', [1, 1, 0]), true);
  });

  test('evalLogical counts a leaf whose condition holds as present, even 0=0', () => {
    assert.equal(holds('(0=0|1)>0,2', [0, 1]), true);
  });

  test('evalLogical passes a nested block its count but not its subsignatures', () => {
    assert.equal(holds('((0|1)>0|2)>0,2', [1, 1, 0]), false);
    assert.equal(holds('((0|1)>0|2)>0,1', [1, 1, 1]), true);
  });
});

describe('evalByteCompare', () => {
  test('evalByteCompare matches the reference examples', () => {
    const mz = bytes('MZ\x12\x34rest of it');
    assert.equal(evalByteCompare(bc('0(>>2#ib2#=4660)'), mz, [0]), true);
    assert.equal(evalByteCompare(bc('0(>>2#il2#=13330)'), mz, [0]), true);
    assert.equal(evalByteCompare(bc('0(>>3#de4#>1000,<2000)'), bytes('MZ 1234 rest'), [0]), true);
    assert.equal(evalByteCompare(bc('0(>>3#hb4#=0x1234)'), bytes('MZ 1234 rest'), [0]), true);
  });

  test('evalByteCompare never reads a field that starts at file offset 0', () => {
    assert.equal(evalByteCompare(bc('0(>>0#ib2#=19802)'), bytes('MZ\x12\x34....'), [0]), false);
    assert.equal(evalByteCompare(bc('0(>>1#ib2#=23058)'), bytes('MZ\x12\x34....'), [0]), true);
  });

  test('evalByteCompare reads at the last match of its trigger', () => {
    const data = bytes('xxA1....A2....');
    assert.equal(evalByteCompare(bc('0(>>1#db1#=2)'), data, [2, 8]), true);
    assert.equal(evalByteCompare(bc('0(>>1#db1#=1)'), data, [2, 8]), false);
  });

  test('evalByteCompare needs its trigger to have matched', () => {
    assert.equal(evalByteCompare(bc('0(>>1#db1#=2)'), bytes('xxA2'), []), false);
    assert.equal(evalByteCompare(bc('0(>>3#db1#=2)'), bytes('xxA2'), [], 1), true); // counted but no offset: reads at 0+off
  });

  test('evalByteCompare skips leading blanks, which then fail the exact option', () => {
    assert.equal(evalByteCompare(bc('0(>>2#db4#=12)'), bytes('x:  12.'), [0]), true);
    assert.equal(evalByteCompare(bc('0(>>2#dbe4#=12)'), bytes('x:  12.'), [0]), false);
    assert.equal(evalByteCompare(bc('0(>>2#dbe4#=1234)'), bytes('x:1234'), [0]), true);
    assert.equal(evalByteCompare(bc('0(>>2#dbe4#=12)'), bytes('x:12ab'), [0]), false);
  });

  test('evalByteCompare detects hex or decimal text with the auto option, needing 3 bytes', () => {
    assert.equal(evalByteCompare(bc('0(>>2#ab4#=16)'), bytes('x:0x10'), [0]), true);
    assert.equal(evalByteCompare(bc('0(>>2#ab4#=10)'), bytes('x:10..'), [0]), true);
    assert.equal(evalByteCompare(bc('0(>>2#ab2#=10)'), bytes('x:10..'), [0]), false);
  });

  test('evalByteCompare reverses byte pairs of little-endian hex text', () => {
    assert.equal(evalByteCompare(bc('0(>>2#hl4#=0x3412)'), bytes('x:1234'), [0]), true);
    assert.equal(evalByteCompare(bc('0(>>2#hl3#=0x2301)'), bytes('x:123'), [0]), true);
  });

  test('evalByteCompare never matches without a base and an endianness', () => {
    assert.equal(evalByteCompare(bc('0(>>2#2#=0)'), bytes('x:00..'), [0]), false);
    assert.equal(evalByteCompare(bc('0(>>2#h2#=0)'), bytes('x:00..'), [0]), false);
  });

  test('evalByteCompare compares 8-byte raw integers as signed', () => {
    const data = Buffer.concat([bytes('x:'), Buffer.from('ffffffffffffffff', 'hex')]);
    assert.equal(evalByteCompare(bc('0(>>2#ib8#=-1)'), data, [0]), true);
    assert.equal(evalByteCompare(bc('0(>>2#ib8#<0)'), data, [0]), true);
  });

  test('byteCompareAt refuses a field running past the end of the buffer', () => {
    assert.equal(byteCompareAt(bc('0(>>1#db4#>0)'), bytes('x:12'), 0), false);
  });
});

// ───────────────────────────── differential tests ─────────────────────────────


/** Every start offset of `needle` in `hay`. */
function occurrences(hay: Buffer, needle: Buffer): number[] {
  const out: number[] = [];
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + 1)) out.push(i);
  return out;
}

/** Runs clamscan once over a directory; returns "file\tname" for every detection. */
function clamscanDetections(db: string, dir: string): Set<string> {
  const r = spawnSync('clamscan', ['--no-summary', '--allmatch', '--normalize=no', '-r', '-d', db, dir], { encoding: 'latin1', maxBuffer: 64 << 20 });
  assert.ok(r.status === 0 || r.status === 1, `clamscan failed (${r.status}): ${r.stderr}`);
  const out = new Set<string>();
  for (const line of r.stdout.split('\n')) {
    const m = /^(.*): (.*)\.UNOFFICIAL FOUND$/.exec(line);
    if (m) out.add(`${m[1]!.slice(dir.length + 1)}\t${m[2]}`);
  }
  return out;
}

const FILLER = 'ghijklmnopqrstuvwxyz\x01';
function filler(r: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += FILLER[Math.floor(r() * FILLER.length)];
  return s;
}

/** expr := term | term op expr ; term := N | N cmp | "(" expr ")" | "(" expr ")" cmp [",M"] */
function genExpr(r: () => number, k: number, depth: number): string {
  const leaf = (): string => {
    const n = String(Math.floor(r() * k));
    const x = r();
    if (x < 0.15) return `${n}=${Math.floor(r() * 3)}`;
    if (x < 0.25) return `${n}>${Math.floor(r() * 3)}`;
    if (x < 0.32) return `${n}<${1 + Math.floor(r() * 3)}`;
    if (x < 0.36) return `${n}>0,${1 + Math.floor(r() * 3)}`;
    return n;
  };
  const term = (): string => {
    if (depth <= 0 || r() < 0.55) return leaf();
    const inner = genExpr(r, k, depth - 1);
    if (!/[&|]/.test(inner)) return leaf();
    const x = r();
    if (x < 0.4) return `(${inner})`;
    const op = ['=', '>', '<'][Math.floor(r() * 3)]!;
    const v = Math.floor(r() * 5);
    return `(${inner})${op}${v}${r() < 0.4 ? `,${1 + Math.floor(r() * 3)}` : ''}`;
  };
  let s = term();
  const more = Math.floor(r() * 3);
  for (let i = 0; i < more; i++) s += (r() < 0.5 ? '&' : '|') + term();
  return s;
}

describe('logical signatures against clamscan', () => {
  test('evalLogical agrees with clamscan on seeded random expressions over literal subsignatures', { skip: NO_CLAMSCAN }, () => {
    const r = rng(0x1d5e);
    const pool = ['QA', 'WEC', 'RTY', 'UIO', 'PAS', 'DFG', 'HJK', 'LZX'].map((s) => Buffer.from(s, 'latin1'));
    const dir = mkdtempSync(join(tmpdir(), 'vigil-lsig-'));
    try {
      const sigs: { name: string; line: string; pick: number[] }[] = [];
      for (let i = 0; sigs.length < 160; i++) {
        const k = 1 + Math.floor(r() * 5);
        let e = genExpr(r, k, 2);
        const parsed = parseLogicalExpr(e);
        if (!parsed.expr) continue;
        // every index up to the highest one needs a field; make the highest one k-1
        if (parsed.maxIndex !== k - 1) e = `${e}|${k - 1}`;
        const pick = Array.from({ length: k }, () => Math.floor(r() * pool.length));
        const name = `L${i}`;
        sigs.push({ name, pick, line: `${name};Engine:51-255,Target:0;${e};${pick.map((j) => pool[j]!.toString('hex')).join(';')}` });
      }
      const dbText = sigs.map((s) => s.line).join('\n') + '\n';
      const db = join(dir, 'gen.ldb');
      writeFileSync(db, dbText);
      const parsed = parseLdb(dbText, { file: 'gen.ldb', official: false });
      assert.deepEqual(parsed.diagnostics.filter((d) => d.severity === 'error'), []);
      assert.equal(parsed.sigs.length, sigs.length);

      const files = join(dir, 'files');
      mkdirSync(files);
      const expected = new Set<string>();
      for (let f = 0; f < 60; f++) {
        let text = filler(r, 8);
        for (let j = 0; j < pool.length; j++) {
          const times = r() < 0.35 ? 0 : Math.floor(r() * 4);
          for (let t = 0; t < times; t++) text += pool[j]!.toString('latin1') + filler(r, 1 + Math.floor(r() * 6));
        }
        text += filler(r, 8);
        const data = Buffer.from(text, 'latin1');
        const fname = `f${f}.bin`;
        writeFileSync(join(files, fname), data);
        const hits = pool.map((p) => occurrences(data, p).length);
        for (const sig of parsed.sigs) {
          const s = sigs.find((x) => x.name === sig.name)!;
          const counts = Uint32Array.from(s.pick.map((j) => hits[j]!));
          if (evalLogical(sig.expr, counts)) expected.add(`${fname}\t${sig.name}`);
        }
      }
      const actual = clamscanDetections(db, files);
      const missing = [...expected].filter((x) => !actual.has(x));
      const extra = [...actual].filter((x) => !expected.has(x));
      const why = (x: string) => { const [, n] = x.split('\t'); return `${x} ${sigs.find((s) => s.name === n)?.line}`; };
      assert.deepEqual({ missing: missing.map(why), extra: extra.map(why) }, { missing: [], extra: [] });
      assert.ok(expected.size > 100, 'the generator should produce many detections');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('evalByteCompare agrees with clamscan on seeded random byte-compare signatures', { skip: NO_CLAMSCAN }, () => {
    const r = rng(0xbc01);
    const dir = mkdtempSync(join(tmpdir(), 'vigil-bcomp-'));
    try {
      const trigger = Buffer.from('TRG', 'latin1');
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
      // signatures
      const lines: string[] = [];
      const subs: { name: string; sub: LdbByteCmpSubsig }[] = [];
      for (let i = 0; lines.length < 150; i++) {
        const base = pick(['h', 'd', 'a', 'i', 'i', '']);
        const endian = base === 'd' ? pick(['', 'b']) : pick(['l', 'b', '']);
        const exact = r() < 0.3 ? 'e' : '';
        const len = base === 'i' ? pick([1, 2, 4, 8]) : 1 + Math.floor(r() * 6);
        const off = pick(['>>3', '>>4', '>>5', '<<1', '>>0', '0', '>>0x3', '>>04']);
        const cmp = () => `${pick(['=', '>', '<'])}${pick(['0', '5', '12', '-3', '0x10', '255', '1000', '0x1234', '4660', '13330', '16'])}`;
        const cmps = r() < 0.3 ? `${cmp()},${cmp()}` : cmp();
        const text = `0(${off}#${base}${endian}${exact}${len}#${cmps})`;
        const p = parseByteCompare(text);
        if (!('subsig' in p)) continue;
        const name = `B${i}`;
        lines.push(`${name};Engine:101-255,Target:0;0&1;${trigger.toString('hex')};${text}`);
        subs.push({ name, sub: p.subsig });
      }
      const db = join(dir, 'gen.ldb');
      writeFileSync(db, lines.join('\n') + '\n');
      // files: the trigger, then a numeric field in some notation
      const files = join(dir, 'files');
      mkdirSync(files);
      const expected = new Set<string>();
      const fields = ['12', '0x10', '1234', '  16', '-3', '0010', '255', '4660', 'ff', '0x1234', '1000', '3412', ' 5 ', '0X12'];
      for (let f = 0; f < 70; f++) {
        let text = r() < 0.1 ? '' : filler(r, 2 + Math.floor(r() * 5));
        const reps = 1 + Math.floor(r() * 2);
        for (let k = 0; k < reps; k++) {
          text += 'TRG';
          if (r() < 0.5) {
            text += pick(['', ':', ' ', '::']) + pick(fields);
          } else {
            const raw = Buffer.alloc(8);
            for (let b = 0; b < 8; b++) raw[b] = pick([0x00, 0x01, 0x12, 0x34, 0xff, 0x10, 0x30]);
            text += raw.toString('latin1');
          }
          text += filler(r, 1 + Math.floor(r() * 4));
        }
        text += filler(r, 10);
        const data = Buffer.from(text, 'latin1');
        const fname = `f${f}.bin`;
        writeFileSync(join(files, fname), data);
        const offs = occurrences(data, trigger);
        for (const { name, sub } of subs) {
          if (offs.length && evalByteCompare(sub, data, offs)) expected.add(`${fname}\t${name}`);
        }
      }
      const actual = clamscanDetections(db, files);
      const missing = [...expected].filter((x) => !actual.has(x));
      const extra = [...actual].filter((x) => !expected.has(x));
      const why = (x: string) => { const [, n] = x.split('\t'); return `${x} ${lines.find((l) => l.startsWith(`${n};`))}`; };
      assert.deepEqual({ missing: missing.map(why), extra: extra.map(why) }, { missing: [], extra: [] });
      assert.ok(expected.size > 50, 'the generator should produce many detections');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
