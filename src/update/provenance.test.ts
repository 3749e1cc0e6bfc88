/**
 * Tests for the provenance lookup.
 *
 * In: sidecars written by the import (and hand-made bad ones) in temp dirs. Out: assertions on
 * what `loadProvenance` finds from directories, database files and sidecar paths, how it merges a
 * name found in two sources, and how it skips bad sidecars.
 * Why: `vigil scan --json` shows these records beside detections; a wrong or missing record would
 * send an analyst to the wrong event.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProvenance, provenanceForJson } from './provenance.js';
import { importThreatIntel } from './tiimport.js';

const NOW = new Date('2026-11-29T12:00:00Z');
const H1 = '1'.repeat(64);
const H2 = '2'.repeat(64);

test('sidecars are found from directories, database files and their own path; names match with or without .UNOFFICIAL', () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-prov-'));
  try {
    writeFileSync(join(root, 'list-a.txt'), `${H1}\n${H2}\n`);
    writeFileSync(join(root, 'list-b.txt'), `# second list\n${H1}\n`);
    writeFileSync(join(root, 'ev.json'), JSON.stringify({ Event: { id: '77', uuid: '8f0c5d3e-1111-4a2b-9c3d-0123456789ab', info: 'i', timestamp: '1700000000', Orgc: { name: 'Org A' },
      Attribute: [{ type: 'sha256', value: H2, to_ids: true, uuid: 'd0000000-0000-4000-8000-000000000001' }] } }));
    const out = join(root, 'db');
    assert.equal(importThreatIntel(['list-a.txt', 'list-b.txt', 'ev.json'].map((f) => join(root, f)), { out, now: NOW }).ok, true);

    const all = loadProvenance([out]);
    assert.equal(all.sidecars.length, 3);
    assert.deepEqual(all.problems, []);
    const n1 = `HashList.Sha256.${H1.slice(0, 16)}`;
    const r1 = all.get(`${n1}.UNOFFICIAL`)!;
    assert.equal(r1, all.get(n1));
    assert.deepEqual(r1.entries.map((e) => [e.source, e.input.at]), [['list-a.txt', 'line 1'], ['list-b.txt', 'line 2']], 'one name from two sources: both entries');
    assert.deepEqual(r1.sources.map((s) => s.source), ['list-a', 'list-b']);
    const m = all.get(`MISP.E77.Sha256.${H2.slice(0, 16)}.UNOFFICIAL`)!;
    assert.deepEqual(m.entries.map((e) => [e.source, e.event?.id, e.time]), [['Org A', '77', '2023-11-14T22:13:20Z']]);
    assert.equal(all.get('Eicar-Test-Signature'), undefined);
    assert.equal(all.get('Nope.UNOFFICIAL'), undefined);

    // A database file finds its sibling sidecar only; a sidecar can be named directly.
    const one = loadProvenance([join(out, 'list-b.hsb')]);
    assert.deepEqual(one.get(n1)!.entries.map((e) => e.source), ['list-b.txt']);
    assert.equal(one.get(m.name), undefined);
    assert.equal(loadProvenance([join(out, 'ev.provenance.json')]).size, 1);
    assert.equal(loadProvenance([join(root, 'missing')]).size, 0);

    const j = provenanceForJson(r1, 1);
    assert.deepEqual([j.signature, j.entries.length, j.more, j.sources], [n1, 1, 1, ['list-a', 'list-b']]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('bad sidecars are skipped with the reason, never thrown', () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-prov-'));
  try {
    writeFileSync(join(root, 'trunc.provenance.json'), '{"format":"vigil-ti-provenance","version":1,"signatures":{');
    writeFileSync(join(root, 'other.provenance.json'), '{"format":"something-else","version":1,"signatures":{}}');
    writeFileSync(join(root, 'array.provenance.json'), '[]');
    mkdirSync(join(root, 'dir.provenance.json'));
    writeFileSync(join(root, 'mixed.provenance.json'), JSON.stringify({
      format: 'vigil-ti-provenance', version: 1, source: 'mixed', importedAt: '2026-11-29T12:00:00Z', signatures: {
        'Good.Sha256.1': { kind: 'hash', algo: 'sha256', hash: H1, entries: [{ format: 'hashlist', source: 's', input: { file: 'f', at: 'line 1' } }] },
        'Bad.Kind': { kind: 'other', entries: [] },
        'Bad.Entries': { kind: 'hash', algo: 'sha256', hash: H1, entries: [{ source: 1 }] },
        'Bad.Algo': { kind: 'hash', algo: 'crc32', hash: 'x', entries: [] },
      },
    }));
    const idx = loadProvenance([root]);
    assert.equal(idx.size, 1);
    assert.ok(idx.get('Good.Sha256.1.UNOFFICIAL'));
    assert.equal(idx.get('Bad.Kind'), undefined);
    const text = idx.problems.join('\n');
    assert.match(text, /trunc\.provenance\.json: invalid JSON/);
    assert.match(text, /other\.provenance\.json: not a vigil provenance file/);
    assert.match(text, /array\.provenance\.json: not a vigil provenance file/);
    assert.match(text, /dir\.provenance\.json: not a regular file/);
    assert.match(text, /mixed\.provenance\.json: 3 malformed signature records skipped/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
