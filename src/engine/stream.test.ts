import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSignatures } from '../signatures/clamav/loader.js';
import { Engine } from './engine.js';
import { SCAN_WINDOW } from './scanner.js';

/** A deterministic byte stream (xorshift), typed as binary data by a NUL-rich first kilobyte. */
function data(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; b[i] = s & 0xff; }
  for (let i = 0; i < 1024; i += 7) b[i] = 0;
  return b;
}

test('Engine.scanFile streaming a file window by window reports exactly what scanning it whole reports', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-stream-'));
  const size = SCAN_WINDOW * 9 + 1234;
  const b = data(size, 7);
  const put = (off: number, s: string) => Buffer.from(s, 'latin1').copy(b, off);
  put(SCAN_WINDOW * 3 - 9, 'ACROSSTHEBORDER');
  put(SCAN_WINDOW * 6 + 100, 'PARTONE--');
  put(SCAN_WINDOW * 6 + 2100, 'PARTTWO--');
  put(size - 30, 'CLOSETOTHEEND');
  const file = join(dir, 'big.bin');
  writeFileSync(file, b);
  const hex = (s: string) => Buffer.from(s, 'latin1').toString('hex');
  writeFileSync(join(dir, 'a.ndb'), [
    `Across:0:*:${hex('ACROSSTHEBORDER')}`,
    `Multi:0:*:${hex('PARTONE--')}{1900-2100}${hex('PARTTWO--')}`,
    `End:0:EOF-30:${hex('CLOSETOTHEEND')}`,
    `Miss:0:*:${hex('NOWHERETOBEFOUND')}`,
    '',
  ].join('\n'));
  writeFileSync(join(dir, 'a.hdb'), `${createHash('md5').update(b).digest('hex')}:${size}:WholeHash\n`);
  writeFileSync(join(dir, 'a.ldb'), `Logic;Engine:81-255,Target:0;0&1;${hex('ACROSSTHEBORDER')};${hex('CLOSETOTHEEND')}\n`);
  const set = loadSignatures({ paths: [join(dir, 'a.ndb'), join(dir, 'a.hdb'), join(dir, 'a.ldb')] });
  assert.deepEqual(set.diagnostics, []);
  const engine = new Engine(set);
  for (const allmatch of [true, false]) {
    const whole = engine.scan(b, { allmatch });
    const streamed = engine.scanFile(file, size, { allmatch, streamAbove: 0 });
    assert.deepEqual(streamed, whole, `allmatch ${allmatch}`);
  }
  const names = engine.scanFile(file, size, { allmatch: true, streamAbove: 0 }).detections.map((d) => d.name);
  for (const n of ['Across', 'Multi', 'End', 'WholeHash', 'Logic']) assert.ok(names.includes(`${n}.UNOFFICIAL`), `${n} found when streamed`);
  assert.ok(!names.includes('Miss.UNOFFICIAL'));
});
