/**
 * Structure checks: every generated format passes; damage (one flipped byte, truncation) fails
 * with a location; hostile input (random bytes, garbled headers) ends in a verdict, never an
 * exception or a hang.
 *
 * In: generated files in memory. Out: assertions and figures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../../core/random.js';
import { checkPrefix, checkStructure, detectType, knownBytes, typeFromName, parseFileType } from './headers.js';
import { CORPUS_KINDS, makeFile, type CorpusKind } from './simulator.js';

const asType = (k: CorpusKind): Parameters<typeof checkStructure>[1] => (k === 'bin' ? undefined : k);

test('every generated format passes its check; types from magic and from names', () => {
  const rng = mulberry32(21);
  for (const kind of CORPUS_KINDS) {
    for (const size of [100, 3000, 70_000]) {
      const f = makeFile(rng, kind, size);
      const c = checkStructure(f, asType(kind));
      if (kind === 'bin') assert.equal(c.ok, undefined);
      else assert.equal(c.ok, true, `${kind} ${size}: ${c.detail}`);
      if (kind !== 'bin' && kind !== 'text') assert.equal(detectType(f), kind);
    }
  }
  assert.equal(typeFromName('photo.JPG'), 'jpeg');
  assert.equal(typeFromName('a.tar'), undefined);
  assert.equal(parseFileType('jpg'), 'jpeg');
  assert.equal(parseFileType('docx'), 'docx');
});

test('damage is caught: flipped bytes and truncation fail with a location', (t) => {
  const rng = mulberry32(22);
  let caught = 0, tried = 0;
  for (const kind of ['png', 'zip', 'docx', 'xlsx', 'gif', 'pdf', 'jpeg', 'bmp'] as const) {
    const f = makeFile(rng, kind, 20_000);
    // Truncated files never pass.
    // (A PDF cut by its final end-of-line is still whole.)
    for (const cut of [...(kind === 'pdf' ? [] : [1]), 2, 17, Math.floor(f.length / 2)]) {
      const c = checkStructure(f.subarray(0, f.length - cut), kind);
      assert.equal(c.ok, false, `${kind} cut by ${cut}: ${c.detail}`);
    }
    // Every byte the format fixes (head and tail), flipped one at a time: every one is caught.
    // (BMP's reserved bytes 6..9 are zero in practice but not required: not checked.)
    for (const i of knownBytes(kind, f.length)[0]!.offsets.filter((o) => kind !== 'bmp' || o < 6 || o > 9)) {
      const g = Uint8Array.from(f);
      g[i] = (g[i] as number) ^ 0xff;
      const c = checkStructure(g, kind);
      tried++;
      if (c.ok === false) caught++;
      assert.equal(c.ok, false, `${kind} byte ${i} flipped: ${c.detail}`);
    }
  }
  // PNG and ZIP checks see every byte (CRCs): a flip anywhere is caught.
  for (const kind of ['png', 'zip', 'docx'] as const) {
    const f = makeFile(rng, kind, 30_000);
    for (let k = 0; k < 40; k++) {
      const g = Uint8Array.from(f);
      const i = Math.floor(rng() * g.length);
      g[i] = (g[i] as number) ^ (1 + Math.floor(rng() * 255));
      tried++;
      const c = checkStructure(g, kind);
      if (c.ok === false) caught++;
      assert.equal(c.ok, false, `${kind} byte ${i} changed: ${c.detail}`);
      assert.match(c.detail, /offset|member|EOCD|central|signature|IHDR|chunk/);
    }
  }
  t.diagnostic(`${caught}/${tried} single-byte damages caught`);
});

test('hostile input: random and garbled bytes end in a verdict', () => {
  const rng = mulberry32(23);
  const t0 = Date.now();
  const prefixes = [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], [0x50, 0x4b, 0x03, 0x04], [0x50, 0x4b, 0x05, 0x06], [0x25, 0x50, 0x44, 0x46, 0x2d, 0x31, 0x2e, 0x37], [0xff, 0xd8, 0xff], [0x47, 0x49, 0x46, 0x38, 0x39, 0x61], [0x42, 0x4d], []];
  for (let i = 0; i < 3000; i++) {
    const n = Math.floor(rng() * 4000);
    const b = Uint8Array.from({ length: n }, () => Math.floor(rng() * 256));
    const p = prefixes[i % prefixes.length] as number[];
    b.set(p.slice(0, n));
    const c = checkStructure(b, i % 3 === 0 ? 'png' : undefined);
    if (n >= 64) assert.notEqual(c.ok, true, `random bytes passed as ${c.type}: ${c.detail}`);
    checkPrefix(b, 'text');
  }
  // A GIF whose LZW data declares a huge image, a ZIP whose EOCD claims 65535 entries.
  const gif = makeFile(rng, 'gif', 5000);
  gif[6] = 0xff; gif[7] = 0xff; gif[8] = 0xff; gif[9] = 0xff;
  checkStructure(gif, 'gif');
  const zip = makeFile(rng, 'zip', 5000);
  zip[zip.length - 12] = 0xff; zip[zip.length - 11] = 0xff;
  assert.equal(checkStructure(zip, 'zip').ok, false);
  assert.ok(Date.now() - t0 < 20_000);
});
