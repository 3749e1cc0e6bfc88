/**
 * `vigil ransom recover-key` and `vigil ransom decrypt` as commands: exit codes, usage errors,
 * refusals, the type guessed from the encrypted name, `--keep-unverified`, names already taken.
 *
 * In: small generated files in a temporary directory. Out: assertions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mulberry32 } from '../core/random.js';
import { addDecryptCommand, addRecoverKeyCommand, runDecrypt, runRecoverKey } from './ransom-decrypt.js';
import { commandGroup, parseCommand } from './program.js';
import { makeFile } from '../ransom/decrypt/simulator.js';
import { xorRepeating } from '../ransom/decrypt/xor.js';
import { capture } from '../ransom/decrypt/testkit.js';

test('recover-key and decrypt: exit codes, errors with their cause, nothing overwritten', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-ransom-cli-'));
  try {
    const rng = mulberry32(9);
    const key = Uint8Array.from([7, 1, 99, 200, 13, 54, 2]);
    const png = makeFile(rng, 'png', 30_000), txt = Buffer.from('plain text, nothing else\n'.repeat(40));
    const pngPath = join(dir, 'photo.png'), encPath = join(dir, 'photo.png.locked');
    writeFileSync(pngPath, png);
    writeFileSync(encPath, xorRepeating(png, key));
    const encTxt = join(dir, 'notes.txt.locked');
    writeFileSync(encTxt, xorRepeating(txt, key));

    let c = capture();
    assert.equal(await runRecoverKey(['--help'], c.deps), 0);
    c = capture();
    assert.equal(await runRecoverKey([], c.deps), 2);
    c = capture();
    assert.equal(await runRecoverKey(['--cipher', encPath, '--plain', pngPath, '--type', 'png'], c.deps), 2);
    assert.match(c.err.join(''), /either --plain or --type/);
    c = capture();
    assert.equal(await runRecoverKey(['--cipher', encPath, '--type', 'tiff'], c.deps), 2);
    assert.match(c.err.join(''), /unknown type/);
    c = capture();
    assert.equal(await runRecoverKey(['--cipher', join(dir, 'missing.locked'), '--type', 'png'], c.deps), 2);
    assert.match(c.err.join(''), /missing\.locked/);
    writeFileSync(join(dir, 'README'), 'x');
    c = capture();
    assert.equal(await runRecoverKey(['--cipher', join(dir, 'README')], c.deps), 2);
    assert.match(c.err.join(''), /no original extension/);
    c = capture();
    assert.equal(await runRecoverKey(['--cipher', encTxt], c.deps), 1);
    assert.match(c.err.join(''), /text has no fixed header/);
    c = capture();
    assert.equal(await runRecoverKey(['--cipher', pngPath, '--plain', pngPath, '--out', join(dir, 'same.json')], c.deps), 1);
    assert.match(c.err.join(''), /not encrypted/);
    assert.equal(existsSync(join(dir, 'same.json')), false);

    // The type from the name (photo.png.locked): a 7-byte key from the PNG header; default key path.
    c = capture();
    assert.equal(await runRecoverKey(['--cipher', encPath, '--json'], c.deps), 0, c.err.join(''));
    const j = JSON.parse(c.out.join('')) as { kind: string; key: string; suffix: string; derived: { method: string; check: string } };
    assert.deepEqual([j.kind, j.key, j.suffix, j.derived.method], ['xor', Buffer.from(key).toString('hex'), '.locked', 'header:png']);
    assert.match(j.derived.check, /CRCs valid/);
    const keyPath = `${encPath}.vigil-key.json`;
    assert.ok(existsSync(keyPath));

    // decrypt: usage and key errors are exit 2.
    c = capture();
    assert.equal(await runDecrypt(['--key', keyPath], c.deps), 2);
    c = capture();
    assert.equal(await runDecrypt(['--key', join(dir, 'nokey.json'), encPath], c.deps), 2);
    assert.match(c.err.join(''), /nokey\.json: cannot read/);
    c = capture();
    assert.equal(await runDecrypt(['--key', keyPath, '--out', join(dir, 'nodir'), encPath], c.deps), 2);
    assert.match(c.err.join(''), /not a directory/);
    c = capture();
    assert.equal(await runDecrypt(['--key', keyPath, join(dir, 'gone.png.locked')], c.deps), 2);
    assert.match(c.err.join(''), /gone\.png\.locked: ERROR/);

    // photo.png exists: the result goes to photo.png.decrypted; then both names are taken.
    c = capture();
    assert.equal(await runDecrypt(['--key', keyPath, encPath, encTxt], c.deps), 0, c.out.join('') + c.err.join(''));
    assert.ok(readFileSync(join(dir, 'photo.png.decrypted')).equals(png));
    assert.ok(readFileSync(join(dir, 'notes.txt')).equals(txt));
    assert.ok(readFileSync(pngPath).equals(png));
    c = capture();
    assert.equal(await runDecrypt(['--key', keyPath, encPath], c.deps), 2);
    assert.match(c.err.join(''), /both output names exist/);
    assert.ok(readFileSync(join(dir, 'photo.png.decrypted')).equals(png));

    // A wrong key: nothing written, unless --keep-unverified.
    const wrongKey = join(dir, 'wrong.json');
    writeFileSync(wrongKey, readFileSync(keyPath, 'utf8').replace(Buffer.from(key).toString('hex'), '01020304050607'));
    rmSync(join(dir, 'notes.txt'));
    c = capture();
    assert.equal(await runDecrypt(['--key', wrongKey, encTxt], c.deps), 1);
    assert.match(c.err.join(''), /WRONG KEY \(text\): structure check fails/);
    assert.equal(existsSync(join(dir, 'notes.txt')), false);
    c = capture();
    assert.equal(await runDecrypt(['--key', wrongKey, '--keep-unverified', encTxt], c.deps), 1);
    assert.equal(existsSync(join(dir, 'notes.txt')), true);
    // --suffix: the extension stripped is the one given.
    writeFileSync(join(dir, 'b.txt.enc.x9'), xorRepeating(txt, key));
    c = capture();
    assert.equal(await runDecrypt(['--key', keyPath, '--suffix', '.x9', join(dir, 'b.txt.enc.x9')], c.deps), 0, c.out.join('') + c.err.join(''));
    assert.ok(readFileSync(join(dir, 'b.txt.enc')).equals(txt));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('as subcommands of a `vigil ransom` group', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-ransom-group-'));
  try {
    const txt = Buffer.from('hello, world\n'.repeat(100));
    const key = Uint8Array.from([1, 2, 3, 4, 5]);
    writeFileSync(join(dir, 'a.txt'), txt);
    writeFileSync(join(dir, 'a.txt.xor1'), xorRepeating(txt, key));
    writeFileSync(join(dir, 'b.txt.xor1'), xorRepeating(Buffer.from('second file\n'.repeat(9)), key));
    const run = async (args: string[]): Promise<{ code: number; out: string; err: string }> => {
      const c = capture();
      const out = { code: 0 };
      const program = commandGroup('vigil ransom', c.deps);
      addRecoverKeyCommand(program, c.deps, out);
      addDecryptCommand(program, c.deps, out);
      const code = (await parseCommand(program, args)) ?? out.code;
      return { code, out: c.out.join(''), err: c.err.join('') };
    };
    assert.equal((await run(['decrypt', '--help'])).code, 0);
    assert.equal((await run(['recover-key'])).code, 2);
    const k = await run(['recover-key', '--plain', join(dir, 'a.txt'), '--cipher', join(dir, 'a.txt.xor1'), '--out', join(dir, 'k.json')]);
    assert.equal(k.code, 0, k.err);
    assert.match(k.out, /static XOR key, period 5: 0102030405/);
    const d = await run(['decrypt', '--key', join(dir, 'k.json'), join(dir, 'b.txt.xor1')]);
    assert.equal(d.code, 0, d.err);
    assert.equal(readFileSync(join(dir, 'b.txt'), 'utf8'), 'second file\n'.repeat(9));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
