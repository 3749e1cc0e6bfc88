/**
 * Imported threat intelligence in use: `vigil db import` of a MISP event and a STIX 2.1 bundle
 * into `$VIGIL_HOME/local`, then `vigil scan --json` with the default databases detects the
 * files they name, and each detection carries its provenance (source, event or indicator, time).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from './main.js';
import { tempDir } from '../update/testkit.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

async function vigil(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: { write: (s: string) => { out += s; return true; } } as NodeJS.WriteStream, stderr: { write: (s: string) => { err += s; return true; } } as NodeJS.WriteStream });
  return { code, out, err };
}

test('MISP and STIX imports: vigil scan --json detections carry their provenance', async (t) => {
  const { dir, done } = tempDir('vigil-import-scan-');
  const saved = process.env['VIGIL_HOME'];
  process.env['VIGIL_HOME'] = join(dir, 'home');
  t.after(() => { if (saved === undefined) delete process.env['VIGIL_HOME']; else process.env['VIGIL_HOME'] = saved; done(); });
  const files = join(dir, 'files');
  mkdirSync(files);
  const dropper = Buffer.from('a dropper seen in a phishing campaign, reported to MISP\n'.repeat(3));
  const loader = Buffer.from('a loader described by a STIX indicator\n'.repeat(3));
  const yaraHit = Buffer.from('clean-looking text with the marker VIGIL-IMPORT-YARA-MARKER inside\n');
  const clean = Buffer.from('nothing to see here, not in any feed\n'.repeat(3));
  writeFileSync(join(files, 'dropper.exe'), dropper);
  writeFileSync(join(files, 'loader.dll'), loader);
  writeFileSync(join(files, 'note.txt'), yaraHit);
  writeFileSync(join(files, 'clean.txt'), clean);
  const misp = {
    Event: {
      id: '1234', uuid: '5a8e3f10-0000-4c2b-9c3d-0123456789ab', info: 'Phishing wave, dropper', timestamp: '1764400000',
      Orgc: { name: 'CIRCL', uuid: '55f6ea5e-2c60-40e5-964f-47a8950d210f' },
      Attribute: [
        { uuid: '6b1c0000-0000-4000-8000-000000000001', type: 'filename|sha256', value: `dropper.exe|${sha256(dropper)}`, to_ids: true, timestamp: '1764400100' },
        { uuid: '6b1c0000-0000-4000-8000-000000000002', type: 'md5', value: md5(clean), to_ids: false, timestamp: '1764400100' },
        { uuid: '6b1c0000-0000-4000-8000-000000000003', type: 'yara', to_ids: true, timestamp: '1764400200', value: 'rule marker_text { strings: $a = "VIGIL-IMPORT-YARA-MARKER" condition: $a }' },
      ],
    },
  };
  const stix = {
    type: 'bundle', id: 'bundle--0d5c0000-0000-4000-8000-000000000000',
    objects: [
      { type: 'identity', spec_version: '2.1', id: 'identity--1f2e0000-0000-4000-8000-000000000000', created: '2026-01-01T00:00:00Z', modified: '2026-01-01T00:00:00Z', name: 'Example CERT', identity_class: 'organization' },
      {
        type: 'indicator', spec_version: '2.1', id: 'indicator--7c3a0000-0000-4000-8000-000000000000', created: '2026-10-01T00:00:00Z', modified: '2026-10-02T00:00:00Z',
        created_by_ref: 'identity--1f2e0000-0000-4000-8000-000000000000', name: 'Loader DLL', pattern_type: 'stix', valid_from: '2026-10-01T00:00:00Z',
        pattern: `[file:hashes.'SHA-256' = '${sha256(loader)}'] OR [file:hashes.MD5 = '${md5(loader)}']`,
      },
      {
        type: 'indicator', spec_version: '2.1', id: 'indicator--8d4b0000-0000-4000-8000-000000000000', created: '2026-10-01T00:00:00Z', modified: '2026-10-01T00:00:00Z',
        created_by_ref: 'identity--1f2e0000-0000-4000-8000-000000000000', name: 'Revoked one', pattern_type: 'stix', valid_from: '2026-10-01T00:00:00Z', revoked: true,
        pattern: `[file:hashes.'SHA-256' = '${sha256(clean)}']`,
      },
    ],
  };
  writeFileSync(join(dir, 'misp-event.json'), JSON.stringify(misp));
  writeFileSync(join(dir, 'cert-bundle.json'), JSON.stringify(stix));
  const imp = await vigil(['db', 'import', join(dir, 'misp-event.json'), join(dir, 'cert-bundle.json')]);
  assert.equal(imp.code, 0, imp.err + imp.out);

  const r = await vigil(['scan', '--json', '--no-summary', files]);
  assert.equal(r.code, 1, r.err);
  const records = r.out.trim().split('\n').map((l) => JSON.parse(l) as { path?: string; verdict?: string; detections?: { name: string; provenance?: { signature: string; sources: string[]; entries: Record<string, unknown>[] } }[] }).filter((x) => x.path);
  const by = new Map(records.map((x) => [x.path!.slice(files.length + 1), x]));
  assert.equal(by.get('clean.txt')?.verdict, 'clean', 'a to_ids false attribute and a revoked indicator must not detect');

  const d1 = by.get('dropper.exe')!.detections![0]!;
  assert.match(d1.name, /^MISP\.E1234\.Sha256\.[0-9a-f]{16}\.UNOFFICIAL$/);
  const p1 = JSON.stringify(d1.provenance);
  for (const s of ['CIRCL', '1234', 'Phishing wave, dropper', '6b1c0000-0000-4000-8000-000000000001', 'dropper.exe']) assert.ok(p1.includes(s), `MISP provenance lacks ${s}: ${p1}`);

  const d2 = by.get('loader.dll')!.detections![0]!;
  assert.match(d2.name, /^STIX\.I7c3a0000\.(Sha256|Md5)\.[0-9a-f]{16}\.UNOFFICIAL$/);
  const p2 = JSON.stringify(d2.provenance);
  for (const s of ['Example CERT', 'indicator--7c3a0000-0000-4000-8000-000000000000', 'Loader DLL', '2026-10-02T00:00:00.000Z']) assert.ok(p2.includes(s), `STIX provenance lacks ${s}: ${p2}`);

  const d3 = by.get('note.txt')!.detections![0]!;
  assert.match(d3.name, /MISP_E1234_marker_text/);
  assert.ok(JSON.stringify(d3.provenance).includes('6b1c0000-0000-4000-8000-000000000003'), `YARA provenance: ${JSON.stringify(d3.provenance)}`);
  t.diagnostic(`${d1.name}: ${p1.slice(0, 300)}`);

  // The clamscan-style lines are unchanged by provenance.
  const plain = await vigil(['scan', '--no-summary', '--infected', files]);
  assert.match(plain.out, /dropper\.exe: MISP\.E1234\.Sha256\.[0-9a-f]{16}\.UNOFFICIAL FOUND/);
  // Each scan that found something left one entry in the audit log.
  const audit = await vigil(['audit', 'list', '--json']);
  const scans = audit.out.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; data: { infected: number; detections: { path: string; names: string[] }[] } }).filter((e) => e.kind === 'scan-detections');
  assert.equal(scans.length, 2);
  assert.equal(scans[1]!.data.infected, 3);
  assert.ok(scans[1]!.data.detections.some((d) => d.path.endsWith('dropper.exe') && /^MISP\.E1234\./.test(d.names[0]!)));
});
