import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scanAutoitEmbedded } from './autoit.js';
import { buildAutoit } from './fixtures.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoitScriptWriter, damagedAutoitScript, randomAutoitScript, SCRIPT_DAMAGE, SCRIPT_MAGIC } from './autoit-fixtures.js';
import { AUTOIT_FUNCTIONS, AUTOIT_KEYWORDS, AUTOIT_OPERATORS, decompileEa06Script, formatG, OP } from './autoit-script.js';
import { DEFAULT_UNPACK_OPTIONS, isChild, isLimited, type UnpackContext, type UnpackItem } from '../unpack.js';

const ctx = (maxFileSize = 1 << 26): UnpackContext => ({
  limits: { maxFileSize, maxFiles: 10000, maxScanSize: 1 << 28 },
  options: { ...DEFAULT_UNPACK_OPTIONS },
});
const list = (it: Iterable<UnpackItem>): UnpackItem[] => [...it];
const files = [
  { name: 'a.exe', data: Buffer.from('MZ first file '.repeat(300) + 'x'.repeat(2000) + 'tail') },
  { name: 'b.txt', data: Buffer.from('second, with no repeats at all') },
  { name: 'c.bin', data: Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) & 0xff)) },
];

for (const v6 of [false, true]) {
  for (const stored of [false, true]) {
    test(`AutoIt ${v6 ? 'EA06' : 'EA05'}${stored ? ' stored' : ''}: every file, unpacked`, () => {
      const data = Buffer.concat([Buffer.alloc(50, 0x90), buildAutoit(files, v6, { stored })]);
      const kids = list(scanAutoitEmbedded(data, 50, ctx())).filter(isChild);
      assert.deepEqual(kids.map((k) => Buffer.from(k.data)), files.map((f) => f.data));
      assert.deepEqual(kids.map((k) => k.name), ['autoit.001', 'autoit.002', 'autoit.003']);
    });
  }
}

test('AutoIt: an unknown version byte or a wrong tag gives nothing; sizes over MaxFileSize are limited', () => {
  const au = Buffer.from(buildAutoit(files, false));
  const other = Buffer.from(au);
  other[23] = 0x37;
  assert.deepEqual(list(scanAutoitEmbedded(other, 0, ctx())), []);
  const tag = Buffer.from(au);
  tag[40] = tag[40]! ^ 1;
  assert.deepEqual(list(scanAutoitEmbedded(tag, 0, ctx())), []);
  const items = list(scanAutoitEmbedded(au, 0, ctx(1000)));
  assert.deepEqual(items.map((i) => (isLimited(i) ? 'limit' : isChild(i) ? 'child' : '?')), ['limit', 'child', 'limit']);
});

test('AutoIt: truncation and random damage never throw and stay bounded', () => {
  let seed = 7;
  for (const v6 of [false, true]) {
    const au = Buffer.from(buildAutoit(files, v6));
    const run = (b: Uint8Array): void => {
      for (const i of scanAutoitEmbedded(b, 0, ctx(1 << 16))) if (isChild(i)) assert.ok(i.data.length <= 1 << 16);
    };
    for (let cut = 0; cut <= au.length; cut += 3) run(au.subarray(0, cut));
    for (let round = 0; round < 300; round++) {
      const m = Buffer.from(au);
      for (let k = 0; k < 3; k++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        m[24 + (seed % (m.length - 24))] = seed >>> 24;
      }
      run(m);
    }
  }
});

test('AutoIt: the layer given (a Buffer) is left as it was', () => {
  for (const v6 of [false, true]) {
    const au = Buffer.from(buildAutoit(files, v6, { stored: true }));
    const before = Buffer.from(au);
    assert.equal(list(scanAutoitEmbedded(au, 0, ctx())).filter(isChild).length, 3);
    assert.ok(au.equals(before));
  }
});

/** A seeded source of 32-bit numbers. */
const lcg = (seed: number): (() => number) => () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return (seed ^ (seed >>> 13)) >>> 0;
};
const text = (b: Uint8Array | undefined): string => Buffer.from(b ?? []).toString('latin1');
const decompile = (tokens: Uint8Array, cap = Infinity): string => text(decompileEa06Script(new Uint8Array(tokens), cap).data);

/** A script using every keyword, function, operator and kind of token. */
function everyToken(): AutoitScriptWriter {
  const w = new AutoitScriptWriter();
  AUTOIT_KEYWORDS.forEach((_, i) => w.keyword(i));
  w.lineEnd();
  AUTOIT_FUNCTIONS.forEach((_, i) => { w.func(i); if (i % 40 === 39) w.lineEnd(); });
  w.lineEnd();
  for (const o of AUTOIT_OPERATORS) w.operator(o);
  w.lineEnd();
  w.macro('SCRIPTDIR').variable('VALUE').userFunction('_MYFUNC').operator('(').operator(')').variable('O').object('Item')
    .named(OP.construct, 'CONSTRUCT').named(OP.command, 'RequireAdmin').named(OP.directive, '#NoTrayIcon').string('a "quoted" string').string('').lineEnd();
  w.int32(0).int32(0x7fffffff).int32(-1).int32(0x0badc0de).int64(0n).int64(0x123456789n).int64(-1n).int64(0x80000000n).int64(0x1deadbeefn).lineEnd();
  for (const x of [0, 1, 0.5, 3.14159, 1234565, 999999.5, 1e-5, 5e-324, 1e100]) w.double(x, formatG(x));
  return w.lineEnd();
}

test('AutoIt EA06 script: every token kind decompiled as ClamAV prints it', () => {
  const w = everyToken();
  const got = decompile(w.bytes());
  assert.equal(got, w.expected);
  assert.ok(got.startsWith('UNKNOWN_0 AND OR NOT IF THEN '));
  assert.ok(got.includes('ABS ACOS ADLIBREGISTER '));
  assert.ok(got.includes(', = > < <> >= <= ( ) + - / * & [ ] == ^ += -= /= *= &= ? : \n'));
  assert.ok(got.includes('@SCRIPTDIR $VALUE _MYFUNC( ) $O .Item CONSTRUCT RequireAdmin #NoTrayIcon "a "quoted" string" "" \n'));
  // 64-bit integers: ClamAV adds the low half as a signed number.
  assert.ok(got.includes('0x00000000 0x7fffffff 0xffffffff 0x0badc0de 0x0000000000000000 0x0000000123456789 0xfffffffeffffffff 0xffffffff80000000 0x00000000deadbeef \n'));
  assert.ok(got.endsWith('0 1 0.5 3.14159 1.23456e+06 1e+06 1e-05 4.94066e-324 1e+100 \n'));
});

test('AutoIt EA06 script: %g as glibc prints it (ties to even, exponent switch, NaN and infinity)', () => {
  const cases: [number, string][] = [
    [0, '0'], [-0, '-0'], [1, '1'], [-1.5, '-1.5'], [3.141592653589793, '3.14159'], [1234565, '1.23456e+06'], [1234575, '1.23458e+06'],
    [123456, '123456'], [999999.5, '1e+06'], [999999.4, '999999'], [1e-4, '0.0001'], [0.0001234565, '0.000123457'], [1e-5, '1e-05'],
    [123.456789, '123.457'], [-98765.4321, '-98765.4'], [1e21, '1e+21'], [0.1, '0.1'], [65536.5, '65536.5'], [1.5e-7, '1.5e-07'],
    [7.0000005, '7'], [1.7976931348623157e308, '1.79769e+308'], [2.5e-308, '2.5e-308'], [12345.65, '12345.6'], [1e-300, '1e-300'],
    [4503599627370497, '4.5036e+15'], [Infinity, 'inf'], [-Infinity, '-inf'],
  ];
  for (const [x, want] of cases) assert.equal(formatG(x), want, String(x));
  const nan = (neg: boolean): string => {
    const w = new AutoitScriptWriter().double(new Uint8Array([0, 0, 0, 0, 0, 0, 0xf8, neg ? 0xff : 0x7f]), '').lineEnd();
    return decompile(w.bytes());
  };
  assert.equal(nan(false), 'nan \n');
  assert.equal(nan(true), '-nan \n');
});

test('AutoIt EA06 script: %g against the C library on random doubles', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-autoit-g-'));
  writeFileSync(join(dir, 'g.c'), '#include <stdio.h>\n#include <string.h>\nint main(void){unsigned long long u;double d;while(scanf("%llx",&u)==1){memcpy(&d,&u,8);printf("%g\\n",d);}return 0;}\n');
  if (spawnSync('cc', ['-o', join(dir, 'g'), join(dir, 'g.c')]).status !== 0) { t.skip('no C compiler: the table above stands'); return; }
  const r = lcg(99);
  const dv = new DataView(new ArrayBuffer(8));
  const values: bigint[] = [];
  for (let i = 0; i < 20000; i++) {
    if (i % 2) dv.setFloat64(0, ((r() % 2000000) + 0.5) * 10 ** ((r() % 40) - 20));
    else { dv.setUint32(0, r()); dv.setUint32(4, r()); }
    values.push(dv.getBigUint64(0));
  }
  const c = spawnSync(join(dir, 'g'), { input: values.map((v) => v.toString(16)).join('\n') + '\n', encoding: 'utf8', maxBuffer: 1 << 26 });
  const lines = c.stdout.split('\n');
  values.forEach((v, i) => {
    dv.setBigUint64(0, v);
    const x = dv.getFloat64(0);
    if (!Number.isNaN(x)) assert.equal(formatG(x), lines[i], v.toString(16));
  });
});

test('AutoIt EA06 script: strings as ClamAV narrows them (UTF-16 guess, byte-order mark, no escaping)', () => {
  const one = (units: number[]): string => decompile(new AutoitScriptWriter().string(units).lineEnd().bytes());
  assert.equal(one([0x41, 0x42, 0x43]), '"ABC" \n');
  // Mostly not ASCII: the first `chars` bytes of the UTF-16 are kept as they are.
  assert.equal(one([0x0416, 0x0436, 0x0401, 0x41]), `"${String.fromCharCode(0x16, 0x04, 0x36, 0x04)}" \n`);
  // Half of the first pairs ASCII: narrowed to the low bytes.
  assert.equal(one([0x41, 0x0416, 0x42, 0x0436]), `"A${String.fromCharCode(0x16)}B${String.fromCharCode(0x36)}" \n`);
  // A byte-order mark is dropped; the last byte kept is the one left after the narrowed text.
  assert.equal(one([0xfeff, 0x41, 0x42, 0x43]), `"ABC${String.fromCharCode(0)}" \n`);
  // Too short for the mark (4 bytes): narrowed with it.
  assert.equal(one([0xfeff, 0x41]), `"${String.fromCharCode(0xff)}A" \n`);
  // Variables, macros and user functions decode the same way; a user function has no space after it.
  const w = new AutoitScriptWriter().variable('x').macro('y').userFunction('_f').object('m').lineEnd();
  assert.equal(decompile(w.bytes()), '$x @y _f.m \n');
});

test('AutoIt EA06 script: the line count ends the text; damage keeps what came before', () => {
  const w = new AutoitScriptWriter().keyword('GLOBAL').variable('A').operator('=').int32(1).lineEnd().keyword('LOCAL').variable('B').lineEnd();
  const full = 'GLOBAL $A = 0x00000001 \nLOCAL $B \n';
  assert.equal(decompile(w.bytes()), full);
  assert.equal(decompile(w.bytes(1)), 'GLOBAL $A = 0x00000001 \n');
  assert.equal(decompile(w.bytes(0)), '');
  assert.equal(decompile(w.bytes(50)), full);
  const tail = (bytes: number[]): string => {
    const b = w.bytes(5);
    return decompile(new Uint8Array([...b, ...bytes]));
  };
  assert.equal(tail([0x02, 0x7f]), full); // an unknown op
  assert.equal(tail([OP.keyword, 45, 0, 0, 0, 0x7f]), full); // past the keyword table
  assert.equal(tail([OP.keyword, 44, 0, 0, 0, 0x7f]), `${full}ENUM \n`);
  assert.equal(tail([OP.function, 0x96, 1, 0, 0, 0x7f]), full); // 406: past the function table
  assert.equal(tail([OP.function, 0x95, 1, 0, 0, 0x7f]), `${full}WINWAITNOTACTIVE \n`);
  // An operand ending exactly at the end: ClamAV wants one byte more.
  assert.equal(tail([OP.int32, 1, 0, 0, 0]), full);
  assert.equal(tail([OP.int32, 1, 0, 0, 0, 0x7f]), `${full}0x00000001 \n`);
  assert.equal(tail([OP.double, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]), full);
  assert.equal(tail([OP.double, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0]), `${full}1 `);
  assert.equal(tail([OP.string, 1, 0, 0, 0, 0x40, 0]), full);
  assert.equal(tail([OP.string, 1, 0, 0, 0, 0x40, 0, 0]), `${full}"A" `);
  // A length whose double wraps to a small number: ClamAV's allocation fails, nothing more.
  assert.equal(tail([OP.string, 2, 0, 0, 0x80, 0x41, 0, 0x42, 0, 0x7f, 0x7f]), full);
  assert.equal(tail([OP.string, 0xff, 0, 0, 0, 0x41, 0]), full);
});

test('AutoIt EA06 script: seeded damaged scripts never throw; cut streams give a prefix of the text', () => {
  const r = lcg(5);
  for (let i = 0; i < 300; i++) {
    const damage = SCRIPT_DAMAGE[i % SCRIPT_DAMAGE.length]!;
    const tokens = damagedAutoitScript(r, ['marked'], formatG, damage);
    const out = decompileEa06Script(new Uint8Array(tokens), 1 << 20);
    assert.ok(out.data && out.size === out.data.length && out.size < tokens.length * 4 + 100);
  }
  for (let i = 0; i < 40; i++) {
    const w = randomAutoitScript(r, [], formatG);
    const b = w.bytes();
    assert.equal(decompile(b), w.expected);
    for (let cut = 4; cut < b.length; cut += 7) assert.ok(w.expected.startsWith(decompile(b.subarray(0, cut))));
  }
});

test('AutoIt EA06 script entry: given decompiled, in its place and number, packed or stored', () => {
  const w = everyToken();
  for (const stored of [false, true]) {
    const au = buildAutoit([files[1]!, { name: 'x', data: w.bytes(), magic: SCRIPT_MAGIC, stored }, files[0]!,
      { name: 'y', data: Buffer.from('raw text, not tokens'), magic: '>>>AUTOIT NO CMDEXECUTE<<<' }], true);
    const kids = list(scanAutoitEmbedded(au, 0, ctx())).filter(isChild);
    assert.deepEqual(kids.map((k) => k.name), ['autoit.001', 'autoit.002', 'autoit.003', 'autoit.004']);
    assert.equal(text(kids[1]!.data), w.expected);
    assert.equal(text(kids[3]!.data), 'raw text, not tokens');
  }
  // EA05 has no script entry: a file with that magic is given as it is.
  const five = list(scanAutoitEmbedded(buildAutoit([{ name: 'x', data: w.bytes(), magic: SCRIPT_MAGIC }], false), 0, ctx())).filter(isChild);
  assert.deepEqual(Buffer.from(five[0]!.data), Buffer.from(w.bytes()));
});

test('AutoIt EA06 script entry: a text over MaxFileSize is that limit, with its size, and the last item; damaged streams never throw', () => {
  const w = everyToken();
  const tokens = w.bytes();
  const au = buildAutoit([{ name: 'x', data: tokens, magic: SCRIPT_MAGIC }, files[1]!], true);
  const cap = tokens.length + 100; // the tokens fit, the text does not
  assert.ok(w.expected.length > cap);
  const items = list(scanAutoitEmbedded(au, 0, ctx(cap)));
  // ClamAV refuses the text as a layer, and stops there.
  assert.deepEqual(items, [{ name: 'autoit.001', limit: 'MaxFileSize', size: w.expected.length }]);
  assert.equal(list(scanAutoitEmbedded(au, 0, ctx(w.expected.length))).filter(isChild).length, 2);
  // The packed stream cut: LZSS keeps what it could unpack, the text what it could decompile.
  const whole = Buffer.from(buildAutoit([{ name: 'x', data: tokens, magic: SCRIPT_MAGIC }], true));
  for (let cut = whole.length - 1; cut > whole.length - 200; cut -= 13) {
    const damaged = Buffer.from(whole);
    // Shrink nothing: damage the end of the packed stream instead (its size stays as declared).
    damaged.fill(0x55, cut);
    for (const k of list(scanAutoitEmbedded(damaged, 0, ctx()))) if (isChild(k)) assert.ok(typeof text(k.data) === 'string');
  }
});

test('AutoIt EA06 script: long streams of every operand kind decompile in bounded time', () => {
  const r = lcg(11);
  for (const op of [OP.int32, OP.int64, OP.double, OP.keyword, OP.function, OP.string]) {
    const n = 100000;
    const w = op === OP.int64 || op === OP.double ? 9 : op === OP.string ? 9 : 5;
    const b = new Uint8Array(4 + n * w + 1);
    new DataView(b.buffer).setUint32(0, 0xffffffff, true);
    for (let i = 0; i < n; i++) {
      const at = 4 + i * w;
      b[at] = op;
      if (op === OP.keyword || op === OP.function) b[at + 1] = r() % 40;
      else if (op === OP.string) { b[at + 1] = 2; b[at + 5] = r() & 0x7f; b[at + 7] = r() & 0x7f; }
      else for (let k = 1; k < w; k++) b[at + k] = r() & 0xff;
    }
    const t0 = Date.now();
    const out = decompileEa06Script(b, 1 << 24);
    assert.ok(out.data && out.size > n, `op ${op}`);
    assert.ok(Date.now() - t0 < 5000, `op ${op} took ${Date.now() - t0} ms`);
  }
});
