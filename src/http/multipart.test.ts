import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MultipartParser, MultipartError, multipartBoundary, readUpload, worstOf, type PartInfo } from './multipart.js';
import { Readable } from 'node:stream';

/** A multipart/form-data body. */
function formData(boundary: string, parts: { name: string; filename?: string; type?: string; data: Buffer | string }[]): Buffer {
  const out: Buffer[] = [Buffer.from('preamble to ignore\r\n')];
  for (const p of parts) {
    out.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename.replace(/"/g, '\\"')}"` : ''}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`));
    out.push(Buffer.from(p.data));
    out.push(Buffer.from('\r\n'));
  }
  out.push(Buffer.from(`--${boundary}--\r\nepilogue`));
  return Buffer.concat(out);
}

function parseAll(body: Buffer, boundary: string, cut: number[]): { info: PartInfo; data: Buffer }[] {
  const parts: { info: PartInfo; data: Buffer[] }[] = [];
  const p = new MultipartParser(boundary, {
    onPartBegin: (info) => parts.push({ info, data: [] }),
    onPartData: (c) => parts[parts.length - 1]!.data.push(Buffer.from(c)),
    onPartEnd: () => undefined,
  });
  let at = 0;
  for (const c of [...cut, body.length]) {
    p.write(body.subarray(at, c));
    at = c;
  }
  p.end();
  return parts.map((x) => ({ info: x.info, data: Buffer.concat(x.data) }));
}

test('parts come out whole wherever the body is cut, the boundary split included', () => {
  const boundary = '----vigilBoundary7MA4YWxk';
  // Data that holds near-boundaries: CRLF, "--", a prefix of the delimiter.
  const tricky = Buffer.from(`line\r\n--${boundary.slice(0, 10)}x\r\n\r\n--`);
  const body = formData(boundary, [
    { name: 'comment', data: 'hello' },
    { name: 'file', filename: 'a "quoted".bin', type: 'application/octet-stream', data: tricky },
    { name: 'empty', filename: 'empty.txt', data: '' },
  ]);
  for (let i = 0; i <= body.length; i++) {
    const parts = parseAll(body, boundary, [i]);
    assert.equal(parts.length, 3, `cut at ${i}`);
    assert.equal(parts[0]!.data.toString(), 'hello');
    assert.deepEqual(parts[1]!.data, tricky, `cut at ${i}`);
    assert.equal(parts[1]!.info.filename, 'a "quoted".bin');
    assert.equal(parts[2]!.data.length, 0);
  }
  // One byte at a time.
  const bytewise = parseAll(body, boundary, Array.from({ length: body.length }, (_, i) => i));
  assert.deepEqual(bytewise[1]!.data, tricky);
  assert.equal(bytewise[1]!.info.contentType, 'application/octet-stream');
  assert.equal(bytewise[0]!.info.name, 'comment');
});

test('malformed bodies are errors: no closing boundary, oversized headers, bad boundary line', () => {
  const b = 'XyZ';
  const full = formData(b, [{ name: 'f', data: 'abc' }]);
  assert.throws(() => parseAll(full.subarray(0, full.indexOf(`--${b}--`)), b, []), MultipartError);
  const bigHeaders = Buffer.from(`--${b}\r\nX-Long: ${'a'.repeat(20000)}\r\n\r\ndata\r\n--${b}--`);
  assert.throws(() => parseAll(bigHeaders, b, []), /headers too large/);
  assert.throws(() => parseAll(Buffer.from(`--${b}garbage\r\n\r\n--${b}--`), b, []), /boundary line/);
  assert.equal(multipartBoundary('multipart/form-data; boundary="a b"'), 'a b');
  assert.equal(multipartBoundary('multipart/form-data; charset=utf-8; boundary=abc'), 'abc');
  assert.equal(multipartBoundary('application/octet-stream'), undefined);
});

test('readUpload scans every part, the worst verdict wins, and stops at the size limit', async () => {
  const b = 'bnd';
  const body = formData(b, [{ name: 'a', data: 'fine' }, { name: 'b', filename: 'bad.bin', data: 'BAD' }, { name: 'c', data: 'unsure' }]);
  const scan = async (bytes: Buffer) => {
    await Promise.resolve();
    const t = bytes.toString();
    return t === 'BAD' ? { verdict: 'infected' as const } : t === 'unsure' ? { verdict: 'not-scanned' as const, reason: 'MaxFiles' } : { verdict: 'clean' as const };
  };
  const r = await readUpload(Readable.from([body]), { contentType: `multipart/form-data; boundary=${b}`, maxBodySize: 1e6, scan });
  assert.equal(r.kind, 'scanned');
  if (r.kind !== 'scanned') return;
  assert.equal(r.verdict, 'infected');
  assert.deepEqual(r.parts.map((p) => [p.name, p.filename, p.size, p.result.verdict]), [['a', undefined, 4, 'clean'], ['b', 'bad.bin', 3, 'infected'], ['c', undefined, 6, 'not-scanned']]);
  assert.deepEqual(worstOf([{ verdict: 'clean' }, { verdict: 'not-scanned', reason: 'x' }]), { verdict: 'not-scanned', reason: 'x' });
  const big = await readUpload(Readable.from([body, body]), { contentType: `multipart/form-data; boundary=${b}`, maxBodySize: body.length + 10, scan });
  assert.equal(big.kind, 'too-large');
});
