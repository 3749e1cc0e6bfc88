/**
 * Tests for the threat-intelligence import.
 *
 * In: MISP events, a MISP feed, a STIX 2.1 bundle, hash lists and hostile inputs made here, in temp
 * dirs. Out: assertions on the databases written (scanned with the project's scanner), the
 * provenance each detection resolves to, what is skipped and why, and located problems.
 * Why: an imported signature must detect what the intelligence describes, and say where it came from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createScanner } from '../lib/scanner.js';
import { isDbFile } from '../signatures/clamav/loader.js';
import { loadProvenance } from './provenance.js';
import { buildSource, importThreatIntel, parseJsonLocated, parseTiBytes, parseTiInput, prepareYara, stixFileHashes, type ParsedInput } from './tiimport.js';

const NOW = new Date('2026-11-29T12:00:00Z');

const sample = (tag: string): Buffer => Buffer.from(`vigil threat-intel import test sample ${tag}\n`.repeat(4));
const hex = (algo: string, b: Buffer): string => createHash(algo).update(b).digest('hex');

const A = sample('A'); // sha256 in event 1234 and (filename|sha256) in event 1300: merged
const B = sample('B'); // md5 in event 1234
const C = sample('C'); // sha1 with to_ids false: not imported
const D = sample('D'); // file object with size-in-bytes
const E = sample('E'); // malware-sample in event 1300
const F = sample('F'); // STIX sha256 (OR-ed with an MD5 of G)
const G = sample('G');
const H = sample('H'); // STIX revoked
const I = sample('I'); // STIX expired
const J = sample('J'); // STIX MD5 AND file:size
const Y = Buffer.from('header bytes ... VIGIL-TI-YARA-MARKER-7731 ... trailer bytes');
const Z = Buffer.from('header bytes ... STIX-DELIVERED-YARA-4242 ... trailer bytes');

const ORG1 = { id: '1', name: 'CIRCL', uuid: '55f6ea5e-2c60-40e5-964f-47a8950d210f' };
const ORG2 = { id: '7', name: 'Example CERT', uuid: '5d3b1b0c-0000-4d2b-8c3d-0123456789ab' };

function mispEvents(): unknown[] {
  return [
    {
      Event: {
        id: '1234', uuid: '5f0c5d3e-1111-4a2b-9c3d-0123456789ab', info: 'Emotet wave, November', date: '2026-11-20', timestamp: '1763600000',
        published: true, Orgc: ORG1, Org: ORG1, Tag: [{ name: 'tlp:white' }],
        Attribute: [
          { type: 'sha256', category: 'Payload delivery', value: hex('sha256', A), to_ids: true, uuid: 'a0000000-0000-4000-8000-000000000001', timestamp: '1763600100' },
          { type: 'md5', category: 'Payload delivery', value: hex('md5', B).toUpperCase(), to_ids: true, uuid: 'a0000000-0000-4000-8000-000000000002', timestamp: '1763600200' },
          { type: 'sha1', category: 'Payload delivery', value: hex('sha1', C), to_ids: false, uuid: 'a0000000-0000-4000-8000-000000000003', timestamp: '1763600300' },
          { type: 'ip-dst', category: 'Network activity', value: '198.51.100.7', to_ids: true, uuid: 'a0000000-0000-4000-8000-000000000004', timestamp: '1763600400' },
          { type: 'yara', category: 'Artifacts dropped', to_ids: true, uuid: 'a0000000-0000-4000-8000-000000000005', timestamp: '1763600500',
            value: 'private rule Marker { strings: $m = "VIGIL-TI-YARA-MARKER-7731" condition: $m }\nrule Emotet_Marker { condition: Marker and filesize < 1MB }' },
          { type: 'sha256', value: hex('sha256', A), to_ids: true, uuid: 'a0000000-0000-4000-8000-000000000006', timestamp: '1763600600' }, // duplicate in the event
        ],
        Object: [{
          name: 'file', uuid: 'b0000000-0000-4000-8000-000000000001', meta_category: 'file',
          Attribute: [
            { type: 'filename', object_relation: 'filename', value: 'invoice.doc', to_ids: false, uuid: 'b0000000-0000-4000-8000-000000000002' },
            { type: 'size-in-bytes', object_relation: 'size-in-bytes', value: String(D.length), to_ids: false, uuid: 'b0000000-0000-4000-8000-000000000003' },
            { type: 'sha256', object_relation: 'sha256', value: hex('sha256', D), to_ids: true, uuid: 'b0000000-0000-4000-8000-000000000004', timestamp: '1763600700' },
            { type: 'md5', object_relation: 'md5', value: hex('md5', D), to_ids: false, uuid: 'b0000000-0000-4000-8000-000000000005' },
          ],
        }],
      },
    },
    {
      Event: {
        id: '1300', uuid: '6f0c5d3e-2222-4a2b-9c3d-0123456789ab', info: 'Follow-up', timestamp: '1763700000', Orgc: ORG2,
        Attribute: [
          { type: 'filename|sha256', value: `dropper.exe|${hex('sha256', A)}`, to_ids: true, uuid: 'c0000000-0000-4000-8000-000000000001', timestamp: '1763700100' },
          { type: 'malware-sample', value: `e.bin|${hex('md5', E)}`, to_ids: true, uuid: 'c0000000-0000-4000-8000-000000000002', timestamp: '1763700200' },
          { type: 'sha256', value: hex('sha256', C), to_ids: true, deleted: true, uuid: 'c0000000-0000-4000-8000-000000000003' },
        ],
      },
    },
  ];
}

const IDENTITY = 'identity--9f8e7d6c-5b4a-4392-8170-6a5b4c3d2e1f';
function stixBundle(): unknown {
  const ind = (n: number, extra: object): object => ({
    type: 'indicator', spec_version: '2.1', id: `indicator--0000000${n}-aaaa-4bbb-8ccc-dddddddddddd`, created_by_ref: IDENTITY,
    created: '2026-10-01T08:00:00.000Z', modified: '2026-10-02T09:30:00.000Z', valid_from: '2026-10-01T00:00:00Z', indicator_types: ['malicious-activity'], ...extra,
  });
  return {
    type: 'bundle', id: 'bundle--11111111-2222-4333-8444-555555555555',
    objects: [
      { type: 'identity', spec_version: '2.1', id: IDENTITY, name: 'ACME CERT', identity_class: 'organization', created: '2026-01-01T00:00:00Z', modified: '2026-01-01T00:00:00Z' },
      ind(1, { name: 'Loader hashes', pattern_type: 'stix', pattern: `[file:hashes.'SHA-256' = '${hex('sha256', F)}'] OR [file:hashes.MD5 = '${hex('md5', G)}']` }),
      ind(2, { name: 'Loader YARA', pattern_type: 'yara', pattern: 'rule Loader { strings: $a = "STIX-DELIVERED-YARA-4242" condition: $a }' }),
      ind(3, { name: 'Revoked', revoked: true, pattern_type: 'stix', pattern: `[file:hashes.'SHA-256' = '${hex('sha256', H)}']` }),
      ind(4, { name: 'Expired', valid_until: '2026-11-01T00:00:00Z', pattern_type: 'stix', pattern: `[file:hashes.'SHA-256' = '${hex('sha256', I)}']` }),
      ind(5, { name: 'C2', pattern_type: 'stix', pattern: "[ipv4-addr:value = '198.51.100.7']" }),
      ind(6, { name: 'Sized', pattern_type: 'stix', pattern: `[file:hashes.MD5 = '${hex('md5', J)}' AND file:size = ${J.length} AND file:name = 'j.exe']` }),
      ind(7, { name: 'Snort', pattern_type: 'snort', pattern: 'alert tcp any any -> any any (msg:"x";)' }),
      { type: 'malware', spec_version: '2.1', id: 'malware--31b940d4-6f7f-459a-80ea-9c1f17b58abc', name: 'Loader', is_family: true },
    ],
  };
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'vigil-tiimport-'));
}

test('MISP and STIX imports are detected by the scanner, and each detection resolves to its provenance', async () => {
  const root = tmp();
  try {
    writeFileSync(join(root, 'events.json'), JSON.stringify(mispEvents(), null, 2));
    writeFileSync(join(root, 'bundle.json'), JSON.stringify(stixBundle(), null, 2));
    const out = join(root, 'local');
    const r = importThreatIntel([join(root, 'events.json'), join(root, 'bundle.json')], { out, now: NOW });
    assert.equal(r.ok, true, JSON.stringify(r.sources.map((s) => s.error)));
    const [misp, stix] = r.sources;
    assert.equal(misp!.name, 'events');
    assert.equal(stix!.name, 'bundle');
    const mi = misp!.inputs[0]!;
    assert.equal(mi.format, 'misp');
    assert.equal(mi.units, 2);
    assert.deepEqual(mi.skipped, { 'to_ids false': 2, 'type ip-dst': 1, deleted: 1 });
    assert.deepEqual(mi.problems, []);
    assert.deepEqual(misp!.counts, { md5: 2, sha1: 0, sha256: 2, yaraRules: 1, hashLines: 4, merged: 2 });
    const si = stix!.inputs[0]!;
    assert.equal(si.format, 'stix');
    assert.deepEqual(si.skipped, { revoked: 1, 'expired (valid_until passed)': 1, 'pattern not a file hash (ipv4-addr observable)': 1, 'pattern_type snort': 1 });
    assert.deepEqual(stix!.counts, { md5: 2, sha1: 0, sha256: 1, yaraRules: 1, hashLines: 3, merged: 0 });
    assert.deepEqual(readdirSync(out).sort(), ['bundle.hdb', 'bundle.hsb', 'bundle.provenance.json', 'bundle.yar', 'events.hdb', 'events.hsb', 'events.provenance.json', 'events.yar']);
    // Size from the MISP object; `*` with MinFL 73 where the size is unknown.
    const hsb = readFileSync(join(out, 'events.hsb'), 'utf8');
    assert.ok(hsb.includes(`${hex('sha256', D)}:${D.length}:MISP.E1234.Sha256.${hex('sha256', D).slice(0, 16)}\n`), hsb);
    assert.ok(hsb.includes(`${hex('sha256', A)}:*:MISP.E1234.Sha256.${hex('sha256', A).slice(0, 16)}:73\n`), hsb);
    assert.ok(readFileSync(join(out, 'bundle.hdb'), 'utf8').includes(`${hex('md5', J)}:${J.length}:STIX.I00000006.Md5.`));
    assert.equal(isDbFile('events.provenance.json'), false, 'the loader does not read sidecars as databases');

    const scanner = await createScanner({ databases: [out], cache: false, allmatch: true });
    const prov = loadProvenance([out]);
    try {
      const detect = async (b: Buffer): Promise<string[]> => [...new Set((await scanner.scanBuffer(b)).detections.map((d) => d.name))];
      const one = async (b: Buffer): Promise<string> => {
        const names = await detect(b);
        assert.equal(names.length, 1, `one detection expected, got ${names.join(', ')}`);
        return names[0]!;
      };

      // A: seen in two events of two organisations: one signature, both occurrences.
      const a = await one(A);
      assert.equal(a, `MISP.E1234.Sha256.${hex('sha256', A).slice(0, 16)}.UNOFFICIAL`);
      const pa = prov.get(a)!;
      assert.equal(pa.kind, 'hash');
      assert.equal(pa.hash, hex('sha256', A));
      assert.deepEqual(pa.entries.map((e) => [e.source, e.event?.id, e.attribute?.uuid, e.time]), [
        ['CIRCL', '1234', 'a0000000-0000-4000-8000-000000000001', '2025-11-20T00:55:00Z'],
        ['CIRCL', '1234', 'a0000000-0000-4000-8000-000000000006', '2025-11-20T01:03:20Z'],
        ['Example CERT', '1300', 'c0000000-0000-4000-8000-000000000001', '2025-11-21T04:41:40Z'],
      ]);
      assert.equal(pa.entries[0]!.event?.info, 'Emotet wave, November');
      assert.deepEqual(pa.entries[0]!.tags, ['tlp:white']);
      assert.equal(pa.entries[0]!.sourceId, ORG1.uuid);
      assert.equal(pa.entries[2]!.filename, 'dropper.exe');
      assert.deepEqual(pa.entries[0]!.input, { file: 'events.json', at: '$[0].Event.Attribute[0]' });

      const b = await one(B);
      assert.match(b, /^MISP\.E1234\.Md5\.[0-9a-f]{16}\.UNOFFICIAL$/);
      assert.equal(prov.get(b)!.hash, hex('md5', B), 'upper-case hex is normalised');

      assert.deepEqual(await detect(C), [], 'to_ids false and deleted attributes are not imported');

      const d = await one(D);
      const pd = prov.get(d)!;
      assert.deepEqual(pd.sizes, [D.length]);
      assert.deepEqual(pd.entries.map((e) => [e.attribute?.object, e.attribute?.objectUuid, e.time]), [['file', 'b0000000-0000-4000-8000-000000000001', '2025-11-20T01:05:00Z']]);
      assert.deepEqual(await detect(Buffer.concat([D, Buffer.from('x')])), [], 'the object size is part of the signature');

      const e = await one(E);
      assert.match(e, /^MISP\.E1300\.Md5\./);
      assert.deepEqual(prov.get(e)!.entries.map((x) => [x.source, x.attribute?.type, x.filename]), [['Example CERT', 'malware-sample', 'e.bin']]);

      const y = await one(Y);
      assert.equal(y, 'YARA.MISP_E1234_Emotet_Marker.UNOFFICIAL', 'the private rule is renamed with its reference and reports nothing');
      const py = prov.get(y)!;
      assert.equal(py.kind, 'yara');
      assert.deepEqual(py.entries.map((x) => [x.event?.id, x.attribute?.uuid, x.time]), [['1234', 'a0000000-0000-4000-8000-000000000005', '2025-11-20T01:01:40Z']]);

      // STIX.
      const f = await one(F);
      assert.match(f, /^STIX\.I00000001\.Sha256\.[0-9a-f]{16}\.UNOFFICIAL$/);
      const pf = prov.get(f)!;
      assert.deepEqual(pf.entries.map((x) => [x.format, x.source, x.sourceId, x.indicator?.id, x.indicator?.name, x.time]), [
        ['stix', 'ACME CERT', IDENTITY, 'indicator--00000001-aaaa-4bbb-8ccc-dddddddddddd', 'Loader hashes', '2026-10-02T09:30:00.000Z'],
      ]);
      assert.equal(pf.entries[0]!.indicator?.created, '2026-10-01T08:00:00.000Z');
      assert.match(await one(G), /^STIX\.I00000001\.Md5\./);
      assert.deepEqual(await detect(H), [], 'revoked');
      assert.deepEqual(await detect(I), [], 'expired');
      const j = await one(J);
      assert.equal(prov.get(j)!.entries[0]!.filename, 'j.exe');
      const z = await one(Z);
      assert.equal(z, 'YARA.STIX_I00000002_Loader.UNOFFICIAL');
      assert.equal(prov.get(z)!.entries[0]!.indicator?.name, 'Loader YARA');
    } finally {
      await scanner.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('output is deterministic: same bytes for the same data in another order; re-import replaces atomically', () => {
  const root = tmp();
  try {
    const events = mispEvents();
    writeFileSync(join(root, 'a.json'), JSON.stringify(events));
    mkdirSync(join(root, 'b'));
    writeFileSync(join(root, 'b', 'a.json'), JSON.stringify([...events].reverse()));
    const o1 = join(root, 'o1');
    const o2 = join(root, 'o2');
    assert.equal(importThreatIntel([join(root, 'a.json')], { out: o1, now: NOW }).ok, true);
    assert.equal(importThreatIntel([join(root, 'b', 'a.json')], { out: o2, now: NOW }).ok, true);
    for (const f of ['a.hdb', 'a.hsb', 'a.yar']) assert.ok(readFileSync(join(o1, f)).equals(readFileSync(join(o2, f))), f);
    const p1 = JSON.parse(readFileSync(join(o1, 'a.provenance.json'), 'utf8')) as { signatures: Record<string, unknown> };
    const p2 = JSON.parse(readFileSync(join(o2, 'a.provenance.json'), 'utf8')) as { signatures: Record<string, unknown> };
    assert.deepEqual(Object.keys(p1.signatures), Object.keys(p2.signatures));
    const first = readFileSync(join(o1, 'a.provenance.json'));
    assert.equal(importThreatIntel([join(root, 'a.json')], { out: o1, now: NOW }).ok, true);
    assert.ok(readFileSync(join(o1, 'a.provenance.json')).equals(first), 're-import of the same data gives the same bytes');

    // The same source without its YARA attribute: the old .yar goes, nothing temporary stays.
    const noYara = mispEvents() as { Event: { Attribute: { type: string }[] } }[];
    noYara[0]!.Event.Attribute = noYara[0]!.Event.Attribute.filter((x) => x.type !== 'yara');
    writeFileSync(join(root, 'a.json'), JSON.stringify(noYara));
    assert.equal(importThreatIntel([join(root, 'a.json')], { out: o1, now: NOW }).ok, true);
    assert.deepEqual(readdirSync(o1).sort(), ['a.hdb', 'a.hsb', 'a.provenance.json']);
    assert.doesNotMatch(readFileSync(join(o1, 'a.provenance.json'), 'utf8'), /YARA\./);

    // An unreadable input leaves the source as it was.
    writeFileSync(join(root, 'a.json'), '{"Event": {"id": "1", ');
    const bad = importThreatIntel([join(root, 'a.json')], { out: o1, now: NOW });
    assert.equal(bad.ok, false);
    assert.match(bad.sources[0]!.error!, /not written/);
    assert.deepEqual(readdirSync(o1).sort(), ['a.hdb', 'a.hsb', 'a.provenance.json']);

    // Database files no import wrote are not replaced.
    const o3 = join(root, 'o3');
    mkdirSync(o3);
    writeFileSync(join(o3, 'a.hsb'), 'mine\n');
    writeFileSync(join(root, 'a.json'), JSON.stringify(events));
    const foreign = importThreatIntel([join(root, 'a.json')], { out: o3, now: NOW });
    assert.equal(foreign.ok, false);
    assert.match(foreign.sources[0]!.error!, /was not written by vigil db import/);
    assert.equal(readFileSync(join(o3, 'a.hsb'), 'utf8'), 'mine\n');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('MISP feed directory: manifest.json and <uuid>.json files; response exports; a hostile manifest', async () => {
  const root = tmp();
  try {
    const feed = join(root, 'circl-feed');
    mkdirSync(feed);
    const [e1, e2] = mispEvents() as { Event: { uuid: string; info: string; timestamp: string; Orgc: object } }[];
    const manifest: Record<string, unknown> = {};
    for (const e of [e1!, e2!]) {
      writeFileSync(join(feed, `${e.Event.uuid}.json`), JSON.stringify(e));
      manifest[e.Event.uuid] = { info: e.Event.info, Orgc: e.Event.Orgc, timestamp: e.Event.timestamp, analysis: '2', threat_level_id: '2', Tag: [] };
    }
    manifest['../../etc/passwd'] = { info: 'escape' };
    manifest['7f0c5d3e-3333-4a2b-9c3d-0123456789ab'] = { info: 'listed, file missing' };
    writeFileSync(join(feed, 'manifest.json'), JSON.stringify(manifest));
    writeFileSync(join(feed, 'hashes.csv'), 'not read\n');
    const viaDir = parseTiInput(feed, { now: NOW });
    assert.equal(viaDir.format, 'misp-feed');
    assert.equal(viaDir.ok, true);
    assert.equal(viaDir.units, 2);
    assert.equal(viaDir.hashes.length, 6);
    assert.equal(viaDir.skipped['invalid'], 2);
    assert.ok(viaDir.problems.some((q) => q.code === 'ti.feed-uuid' && q.at === 'manifest.json $["../../etc/passwd"]'), JSON.stringify(viaDir.problems));
    assert.ok(viaDir.problems.some((q) => q.code === 'ti.feed-event' && /7f0c5d3e.*no such file/.test(`${q.at} ${q.message}`)));
    assert.ok(viaDir.hashes.some((h) => h.entry.input.file === `${e1!.Event.uuid}.json`));
    const viaManifest = parseTiInput(join(feed, 'manifest.json'), { now: NOW });
    assert.equal(viaManifest.format, 'misp-feed');
    assert.equal(viaManifest.hashes.length, 6);

    const out = join(root, 'out');
    const r = importThreatIntel([feed], { out, now: NOW });
    assert.equal(r.ok, true);
    assert.equal(r.sources[0]!.name, 'circl-feed');
    const scanner = await createScanner({ databases: [out], cache: false });
    try {
      const rep = await scanner.scanBuffer(E);
      assert.equal(rep.verdict, 'infected');
      assert.equal(loadProvenance([out]).get(rep.detections[0]!.name)?.entries[0]?.input.file, `${e2!.Event.uuid}.json`);
    } finally {
      await scanner.close();
    }

    const resp = parseTiBytes(Buffer.from(JSON.stringify({ response: mispEvents() })), 'search.json', { now: NOW });
    assert.equal(resp.format, 'misp');
    assert.equal(resp.units, 2);
    assert.equal(resp.hashes[0]!.entry.input.at, '$.response[0].Event.Attribute[0]');
    // restSearch on attributes: each attribute with its event.
    const attrs = parseTiBytes(Buffer.from(JSON.stringify({ response: { Attribute: [
      { id: '1', event_id: '88', type: 'sha256', value: hex('sha256', A), to_ids: true, uuid: 'e0000000-0000-4000-8000-000000000001', timestamp: '1763600100',
        Event: { id: '88', info: 'from search', uuid: '8f0c5d3e-1111-4a2b-9c3d-0123456789ab', orgc_id: '1' } },
      { id: '2', event_id: '88', type: 'md5', value: hex('md5', B), to_ids: false },
      { id: '3', event_id: '89', type: 'md5', value: hex('md5', B), to_ids: true },
    ] } })), 'attrs.json', { now: NOW });
    assert.equal(attrs.format, 'misp');
    assert.equal(attrs.units, 2);
    assert.deepEqual(attrs.hashes.map((h) => [h.prefix, h.entry.event?.info, h.entry.input.at]), [['MISP.E88', 'from search', '$.response.Attribute[0]'], ['MISP.E89', undefined, '$.response.Attribute[2]']]);
    assert.deepEqual(attrs.skipped, { 'to_ids false': 1 });
    // STIX 2.0: no pattern_type, the pattern is STIX.
    const stix20 = parseTiBytes(Buffer.from(JSON.stringify({ type: 'bundle', spec_version: '2.0', objects: [
      { type: 'indicator', id: 'indicator--20000000-aaaa-4bbb-8ccc-dddddddddddd', labels: ['malicious-activity'], valid_from: '2026-01-01T00:00:00Z', pattern: `[file:hashes.MD5 = '${hex('md5', B)}']` },
    ] })), 's20.json', { now: NOW });
    assert.deepEqual(stix20.hashes.map((h) => [h.algo, h.prefix, h.entry.tags]), [['md5', 'STIX.I20000000', ['malicious-activity']]]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('hash lists and MalwareBazaar CSV exports', async () => {
  const root = tmp();
  try {
    const K = sample('K');
    const L = sample('L');
    writeFileSync(join(root, 'recent.txt'), [
      '################################################################',
      '# MalwareBazaar recent malware samples (SHA256 hashes)          #',
      '################################################################',
      '',
      hex('sha256', K),
      hex('md5', L),
      'nothex-nothex-nothex-nothex-nothe',
      hex('sha256', K),
      '',
    ].join('\n'));
    writeFileSync(join(root, 'full.csv'), [
      '################################################################',
      '# MalwareBazaar full malware samples dump (CSV)                #',
      '################################################################',
      '#',
      '# "first_seen_utc","sha256_hash","md5_hash","sha1_hash","reporter","file_name","file_type_guess","mime_type","signature","clamav","vtpercent","imphash","ssdeep","tlsh"',
      `"2026-11-28 10:15:02", "${hex('sha256', L)}", "${hex('md5', L)}", "${hex('sha1', L)}", "abuse_ch", "L, ""final"".exe", "exe", "application/x-dosexec", "AgentTesla", "n/a", "n/a", "n/a", "n/a", "n/a"`,
      `"2026-11-28 10:16:00", "abc", "", "", "someone", "x.exe", "exe", "application/x-dosexec", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a"`,
      `"2026-11-28 10:17:00", "unterminated`,
    ].join('\n'));
    const list = parseTiInput(join(root, 'recent.txt'), { now: NOW });
    assert.equal(list.format, 'hashlist');
    assert.equal(list.hashes.length, 3);
    assert.deepEqual(list.problems.map((q) => [q.at, q.code]), [['line 7', 'ti.bad-hash']]);
    const csv = parseTiInput(join(root, 'full.csv'), { now: NOW });
    assert.equal(csv.format, 'malwarebazaar-csv');
    assert.equal(csv.hashes.length, 1);
    assert.equal(csv.hashes[0]!.algo, 'sha256', 'the strongest hash of a row');
    assert.deepEqual(csv.problems.map((q) => [q.at, q.code]), [['line 7, column sha256_hash', 'ti.bad-hash'], ['line 8', 'ti.csv-syntax']]);

    const out = join(root, 'out');
    const r = importThreatIntel([join(root, 'recent.txt'), join(root, 'full.csv')], { out, now: NOW, name: 'bazaar' });
    assert.equal(r.ok, true);
    assert.equal(r.sources.length, 1);
    const scanner = await createScanner({ databases: [out], cache: false, allmatch: true });
    const prov = loadProvenance([join(out, 'bazaar.hsb')]);
    try {
      const k = (await scanner.scanBuffer(K)).detections.map((d) => d.name);
      assert.deepEqual(k, [`HashList.Sha256.${hex('sha256', K).slice(0, 16)}.UNOFFICIAL`]);
      assert.deepEqual(prov.get(k[0]!)!.entries.map((e) => [e.source, e.input.at, e.time]), [['recent.txt', 'line 5', '2026-11-29T12:00:00Z'], ['recent.txt', 'line 8', '2026-11-29T12:00:00Z']]);
      const l = [...new Set((await scanner.scanBuffer(L)).detections.map((d) => d.name))].sort();
      assert.equal(l.length, 2, 'MD5 from the list, SHA-256 from the CSV');
      const fromCsv = prov.get(l.find((n) => n.startsWith('MalwareBazaar.Sha256.'))!)!;
      assert.deepEqual(fromCsv.entries.map((e) => [e.source, e.time, e.filename, e.malware, e.input.at]), [['MalwareBazaar (reporter abuse_ch)', '2026-11-28T10:15:02Z', 'L, "final".exe', 'AgentTesla', 'line 6']]);
    } finally {
      await scanner.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('hostile inputs give located problems, never a crash', () => {
  const p = (text: string | Buffer, file = 'x.json'): ParsedInput => parseTiBytes(typeof text === 'string' ? Buffer.from(text) : text, file, { now: NOW });

  const truncated = p('{\n  "Event": {\n    "id": "1",\n    "Attribute": [\n      {"type": "md5", "value": "');
  assert.equal(truncated.ok, false);
  assert.deepEqual(truncated.problems.map((q) => [q.code, q.at]), [['ti.json-syntax', 'line 5, column 32']]);
  assert.match(truncated.problems[0]!.message, /unterminated string/);
  assert.deepEqual(parseJsonLocated('[1,\n 2,\n }'), { line: 3, column: 2, message: 'expected a value, found "}"' });

  const deep = p('['.repeat(200_000) + ']'.repeat(200_000));
  assert.equal(deep.ok, false, 'deep nesting is not an event list');
  const deepBroken = p('['.repeat(200_000));
  assert.equal(deepBroken.ok, false);
  assert.match(deepBroken.problems[0]!.at, /^line 1, column 200001$/);

  const wrong = p(JSON.stringify({ Event: {
    id: '9', info: 'x'.repeat(5000), Orgc: { name: 'Org' },
    Attribute: [
      'not an object',
      { type: 42, value: 'x', to_ids: true },
      { type: 'md5', value: 123, to_ids: true },
      { type: 'sha256', value: 'abcd', to_ids: true },
      { type: 'sha1', value: 'g'.repeat(40), to_ids: true },
      { type: 'md5', value: 'a'.repeat(32), to_ids: 'maybe' },
      { type: 'sha256', value: 'f'.repeat(10 * 1024 * 1024), to_ids: true },
      { type: 'yara', value: 'rule broken { condition: }', to_ids: true },
      { type: 'yara', value: 'rule r { strings: $a = "abc" condition: $a }\nglobal rule g { condition: filesize < 10 }', to_ids: true },
      { type: 'filename|md5', value: 'no-bar', to_ids: true },
    ],
    Object: { name: 'file' },
  } }));
  assert.equal(wrong.ok, true, 'bad attributes are skipped; the event is still read');
  const at = (q: { at: string; code: string }): string => `${q.code} ${q.at}`;
  assert.deepEqual(wrong.problems.map(at), [
    'ti.misp-type $.Event.Attribute[0]',
    'ti.misp-type $.Event.Attribute[1].type',
    'ti.misp-type $.Event.Attribute[2].value',
    'ti.bad-hash $.Event.Attribute[3].value',
    'ti.bad-hash $.Event.Attribute[4].value',
    'ti.misp-type $.Event.Attribute[5].to_ids',
    'ti.too-long $.Event.Attribute[6].value',
    'ti.bad-hash $.Event.Attribute[9].value',
    'ti.misp-type $.Event.Object',
  ]);
  assert.match(wrong.problems[3]!.message, /4 characters; expected 64/);
  assert.match(wrong.problems[4]!.message, /invalid character "g" at position 1/);
  assert.match(wrong.problems[6]!.message, /10485760 characters; the limit for sha256 is 4096/);
  assert.equal(wrong.skipped['invalid'], 9);
  // The YARA problems come when the source is built.
  const built = buildSource('x', [wrong], NOW);
  assert.deepEqual(built.problems.map((q) => [q.at, q.message.replace(/:.*$/s, '')]), [
    ['$.Event.Attribute[7]', 'YARA rule not imported'],
    ['$.Event.Attribute[8]', 'YARA rule not imported'],
  ]);
  assert.match(built.problems[0]!.message, /does not parse: line 1/);
  assert.match(built.problems[1]!.message, /global rule g/);
  assert.equal(built.files.size, 0);

  const notTi = p('{"hello": "world"}');
  assert.equal(notTi.ok, false);
  assert.match(notTi.problems[0]!.message, /not a recognised format.*"hello"/);
  const binary = p(Buffer.from([0x4d, 0x5a, 0x90, 0x00, 0x03]), 'x.exe');
  assert.equal(binary.ok, false);
  assert.equal(binary.problems[0]!.at, 'byte 3');
  const text = p('hello world\n', 'notes.txt');
  assert.equal(text.ok, false);
  assert.equal(text.problems[0]!.at, 'line 1');
  const badStix = p(JSON.stringify({ type: 'bundle', objects: [
    { type: 'indicator', id: 'indicator--00000000-aaaa-4bbb-8ccc-dddddddddddd', pattern_type: 'stix', pattern: "[file:hashes.MD5 = 'abc'" },
    { type: 'indicator', id: 'nope', pattern_type: 'stix', pattern: '' },
    { type: 'indicator', id: 'indicator--10000000-aaaa-4bbb-8ccc-dddddddddddd', pattern_type: 'stix', valid_until: 'tomorrow', pattern: '' },
  ] }));
  assert.deepEqual(badStix.problems.map(at).sort(), ['ti.stix-pattern $.objects[0].pattern', 'ti.stix-type $.objects[1].id', 'ti.stix-type $.objects[2].valid_until']);
  assert.match(badStix.problems.find((q) => q.code === 'ti.stix-pattern')!.message, /column 25: expected '\]' before the end of the pattern/);
  const stixWrong = p('{"type": "bundle", "objects": {"a": 1}}');
  assert.equal(stixWrong.ok, false);
  assert.equal(stixWrong.problems[0]!.at, '$.objects');
});

test('STIX patterns: file-hash comparisons are read with the patterning grammar', () => {
  const s256 = 'a'.repeat(64);
  const m5 = 'b'.repeat(32);
  const s1 = 'c'.repeat(40);
  assert.deepEqual(stixFileHashes(`[file:hashes.'SHA-256' = '${s256.toUpperCase()}']`), { hashes: [{ algo: 'sha256', hash: s256, size: null }] });
  assert.deepEqual(stixFileHashes(`[file:hashes.MD5 = '${m5}' OR file:hashes.'SHA-1' = '${s1}']`), { hashes: [{ algo: 'md5', hash: m5, size: null }, { algo: 'sha1', hash: s1, size: null }] });
  assert.deepEqual(stixFileHashes(`([file:hashes.MD5 = '${m5}'] OR [file:hashes.SHA256 = '${s256}'])`), { hashes: [{ algo: 'md5', hash: m5, size: null }, { algo: 'sha256', hash: s256, size: null }] });
  assert.deepEqual(stixFileHashes(`[file:hashes.MD5 = '${m5}' AND file:hashes.'SHA-256' = '${s256}']`), { hashes: [{ algo: 'sha256', hash: s256, size: null }] }, 'the strongest hash of a conjunction');
  assert.deepEqual(stixFileHashes(`[(file:hashes.MD5 = '${m5}' OR file:hashes.'SHA-1' = '${s1}') AND file:size = 1024]`), { hashes: [{ algo: 'md5', hash: m5, size: 1024 }, { algo: 'sha1', hash: s1, size: 1024 }] });
  assert.deepEqual(stixFileHashes(`[file:name = 'it''s' AND file:hashes.MD5 = '${m5}']`), { syntax: "expected ']'", column: 18 }, "'' is no escape in STIX");
  assert.deepEqual(stixFileHashes(`[file:name = 'it\\'s' AND file:hashes.MD5 = '${m5}']`), { hashes: [{ algo: 'md5', hash: m5, size: null, filename: "it's" }] });
  assert.deepEqual(stixFileHashes(`[file:hashes.MD5 != '${m5}']`), { unsupported: '!= on file:hashes.MD5' });
  assert.deepEqual(stixFileHashes(`[file:hashes.MD5 = '${m5}'] AND [file:hashes.MD5 = '${m5}']`), { unsupported: 'AND between observations' });
  assert.deepEqual(stixFileHashes(`[file:hashes.MD5 = '${m5}'] FOLLOWEDBY [file:hashes.MD5 = '${m5}']`), { unsupported: 'FOLLOWEDBY' });
  assert.deepEqual(stixFileHashes(`[file:hashes.MD5 = '${m5}'] WITHIN 300 SECONDS`), { unsupported: 'observation qualifiers' });
  assert.deepEqual(stixFileHashes(`[file:hashes.'SHA-512' = '${'d'.repeat(128)}']`), { unsupported: 'hash algorithm SHA-512' });
  assert.deepEqual(stixFileHashes("[domain-name:value = 'example.com']"), { unsupported: 'domain-name observable' });
  assert.deepEqual(stixFileHashes("[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]"), { unsupported: '> on file:extensions.windows-pebinary-ext.sections[*].entropy' });
  assert.deepEqual(stixFileHashes(`[file:hashes.MD5 = '${m5.slice(1)}']`), { invalid: 'file:hashes.MD5: MD5 hash has 31 characters; expected 32 hex digits' });
  assert.ok('syntax' in stixFileHashes('[file:hashes.MD5 = ]'));
  assert.ok('syntax' in stixFileHashes(`[file:hashes.MD5 = '${m5}'] extra`));
  assert.ok('syntax' in stixFileHashes('('.repeat(10_000)), 'deep nesting is a syntax error, not a stack overflow');
  const wide = Array.from({ length: 20 }, () => `(file:hashes.MD5 = '${m5}' OR file:hashes.MD5 = '${m5}')`).join(' AND ');
  assert.deepEqual(stixFileHashes(`[${wide}]`), { unsupported: 'more than 256 alternatives' });
});

test('YARA rules are renamed with references, and checked by the compiler', () => {
  const r = prepareYara('import "pe"\nrule A : tag1 { condition: true }\nrule B { condition: A and any of (A*) }\nrule C { strings: $x = "abcd" condition: $x and B }', 'MISP_E5', 'y');
  assert.ok('text' in r, JSON.stringify(r));
  assert.deepEqual(r.rules, ['MISP_E5_A', 'MISP_E5_B', 'MISP_E5_C']);
  assert.match(r.text, /rule MISP_E5_B \{ condition: MISP_E5_A and any of \(MISP_E5_A\*\) \}/);
  assert.match(r.text, /\$x and MISP_E5_B/);
  assert.deepEqual(prepareYara('include "other.yar"\nrule A { condition: true }', 'P', 'y'), { reason: 'include is not allowed in imported rules' });
  assert.deepEqual(prepareYara('// nothing', 'P', 'y'), { reason: 'no rules' });
  assert.match((prepareYara('rule A { condition: undefined_rule }', 'P', 'y') as { reason: string }).reason, /does not compile/);
  assert.match((prepareYara(`rule ${'a'.repeat(127)} { condition: true }`, 'P', 'y') as { reason: string }).reason, /longer than 128/);
});

test('a source with nothing to import writes only its sidecar; stale files go', () => {
  const root = tmp();
  try {
    writeFileSync(join(root, 'x.json'), JSON.stringify({ Event: { id: '3', info: 'i', Attribute: [{ type: 'md5', value: 'a'.repeat(32), to_ids: true }] } }));
    const out = join(root, 'out');
    assert.equal(importThreatIntel([join(root, 'x.json')], { out, now: NOW }).ok, true);
    assert.equal(existsSync(join(out, 'x.hdb')), true);
    writeFileSync(join(root, 'x.json'), JSON.stringify({ Event: { id: '3', info: 'i', Attribute: [{ type: 'md5', value: 'a'.repeat(32), to_ids: false }] } }));
    assert.equal(importThreatIntel([join(root, 'x.json')], { out, now: NOW }).ok, true);
    assert.deepEqual(readdirSync(out), ['x.provenance.json']);
    assert.throws(() => importThreatIntel([join(root, 'x.json')], { out, now: NOW, name: '../evil' }), /invalid source name/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('YARA duplicates merge their provenance; a rule name used twice in one event is refused', () => {
  const ev = (id: string, rules: string[]): object => ({ Event: { id, info: `event ${id}`, Orgc: { name: 'Org' }, Attribute: rules.map((value) => ({ type: 'yara', value, to_ids: true })) } });
  const same = 'rule Dup { strings: $a = "duplicate-marker" condition: $a }';
  const a = parseTiBytes(Buffer.from(JSON.stringify(ev('5', [same]))), 'a.json', { now: NOW });
  const b = parseTiBytes(Buffer.from(JSON.stringify([ev('3', [`  ${same}\r\n`, 'rule Dup { condition: filesize == 1 }'])])), 'b.json', { now: NOW });
  const built = buildSource('y', [a, b], NOW);
  assert.equal(built.counts.yaraRules, 1);
  const yar = built.files.get('y.yar')!;
  assert.match(yar, /rule MISP_E3_Dup \{ strings/);
  assert.doesNotMatch(yar, /MISP_E5_Dup|filesize == 1/);
  const sidecar = JSON.parse(built.provenance) as { signatures: Record<string, { entries: { event: { id: string } }[] }> };
  assert.deepEqual(sidecar.signatures['YARA.MISP_E3_Dup']!.entries.map((e) => e.event.id), ['3', '5'], 'the earliest event names the rule; both are kept');
  assert.deepEqual(built.problems.map((q) => [q.file, q.at]), [['b.json', '$[0].Event.Attribute[1]']]);
  assert.match(built.problems[0]!.message, /rule name MISP_E3_Dup is already used/);
});
