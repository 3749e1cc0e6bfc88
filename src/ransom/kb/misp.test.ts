/**
 * Tests of the MISP galaxy importer: every irregular form of the galaxy, decryptor links, note
 * names and texts, hostile input, the added facts, and figures on the real galaxy; the shipped
 * `db/ransom/kb.json` must be what the importer makes of the shared galaxy, byte for byte.
 *
 * In: hand-made galaxy fragments (always); the shared galaxy and the shipped file (when present).
 * Out: assertions and figures (t.diagnostic). Why: identification is only as good as this data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExtensionPattern, Family } from '../types.js';
import {
  SHIPPED_BUILD, buildShippedKnowledgeBase, decryptorFromLink, extensionsInDescription, extractEmails, extractOnions, importMispGalaxy, matchKey, normaliseExtension, normaliseNoteName,
} from './misp.js';
import { FACTS } from './facts.js';
import { compileExtension, compileNoteName, compileTemplate } from './patterns.js';
import { serialiseKnowledgeBase, validateKnowledgeBase } from './store.js';
import { similarity, noteSignature } from './minhash.js';
import { NO_SHARED, perturbNote, repoRoot, sharedGalaxyPath } from './testdata.js';

function ext(raw: string): ExtensionPattern[] | string {
  const o = normaliseExtension(raw);
  return o.status === 'dropped' ? `dropped: ${o.reason}` : o.patterns;
}

test('extension values: plain, case, missing dot, quotes, several in one', () => {
  assert.deepEqual(normaliseExtension('.locked'), { status: 'kept', patterns: [{ kind: 'suffix', value: '.locked' }], emails: [] });
  assert.deepEqual(ext('.LOCKED'), [{ kind: 'suffix', value: '.locked' }]);
  assert.deepEqual(ext('locked'), [{ kind: 'suffix', value: '.locked' }]);
  assert.deepEqual(ext('"“.Crab”"'), [{ kind: 'suffix', value: '.crab' }]);
  assert.deepEqual(ext('.vvv, .ecc/.exx | .ezz or .abc'), ['.vvv', '.ecc', '.exx', '.ezz', '.abc'].map((value) => ({ kind: 'suffix', value })));
  assert.deepEqual(ext('.aaa .zzz'), [{ kind: 'suffix', value: '.aaa' }, { kind: 'suffix', value: '.zzz' }]);
  assert.deepEqual(ext('.SAVEfiles.'), [{ kind: 'suffix', value: '.savefiles' }]);
  assert.deepEqual(ext('.jpz.nz'), [{ kind: 'suffix', value: '.jpz.nz' }]);
  assert.deepEqual(ext('.CRYPTOSHIELD (The name is first changed using ROT-13, and after a new extension is added.)'), [{ kind: 'suffix', value: '.cryptoshield' }]);
  assert.deepEqual(ext('your files get marked with: “youarefucked”'), [{ kind: 'suffix', value: '.youarefucked' }]);
  assert.deepEqual(ext('.已加密'), [{ kind: 'suffix', value: '.已加密' }]);
});

test('extension values: random descriptions → random:n', () => {
  assert.deepEqual(ext('RANDOM 3 LETTERS ARE ADDED'), [{ kind: 'random', length: 3 }]);
  assert.deepEqual(ext('.<7_random_letters>'), [{ kind: 'random', length: 7 }]);
  assert.deepEqual(ext('.<random_8_chars>'), [{ kind: 'random', length: 8 }]);
  assert.deepEqual(ext('<6 random characters>'), [{ kind: 'random', length: 6 }]);
  assert.deepEqual(ext('.[4 random characters]'), [{ kind: 'random', length: 4 }]);
  assert.deepEqual(ext('4 random characters, e.g., .PzZs, .MKJL'), [{ kind: 'random', length: 4 }]);
  assert.deepEqual(ext('random(x5)'), [{ kind: 'random', length: 5 }]);
  assert.deepEqual(ext('.([a-zA-Z0-9]{4})'), [{ kind: 'random', length: 4 }]);
  assert.match(ext('random') as string, /^dropped: a random extension of unknown length/);
});

test('extension values: examples, templates with ids and e-mails', () => {
  assert.deepEqual(ext('example: file.jpg.locked'), [{ kind: 'suffix', value: '.locked' }]);
  assert.deepEqual(ext('.id-<ID>.[<email>].java'), [{ kind: 'template', value: '.id-[ID].[[EMAIL]].java' }]);
  assert.deepEqual(ext('.[email@x.com].ncov'), [{ kind: 'suffix', value: '.[email@x.com].ncov' }]);
  assert.deepEqual(ext('.[<email>].ncov'), [{ kind: 'template', value: '.[[EMAIL]].ncov' }]);
  assert.deepEqual(ext('<random>.id-XXXXXXXX.[email].arena'), [{ kind: 'suffix', value: '.arena' }]);
  assert.deepEqual(ext('.id-XXXXXXXX.[email].arena'), [{ kind: 'template', value: '.id-[ID].[[EMAIL]].arena' }]);
  assert.deepEqual(ext('.id-BCBEF350.[paymentbtc@firemail.cc].cmb'), [{ kind: 'template', value: '.id-[ID].[paymentbtc@firemail.cc].cmb' }]);
  assert.deepEqual(ext('.id-########.decryptformoney@india.com.xtbl'), [{ kind: 'template', value: '.id-[ID].decryptformoney@india.com.xtbl' }]);
  assert.deepEqual(ext('.[email_address].DHARMA'), [{ kind: 'template', value: '.[[EMAIL]].dharma' }]);
  assert.deepEqual(ext('.id-[ID]_[EMAIL_ADDRESS]'), [{ kind: 'template', value: '.id-[ID]_[EMAIL]' }]);
  assert.deepEqual(ext('.locked-[3_random_chars]'), [{ kind: 'template', value: '.locked-[RANDOM:3]' }]);
  assert.deepEqual(ext('*filename*.email[*email*]_id[*id*].rdmk'), [{ kind: 'template', value: '[ORIGINAL].email[[EMAIL]]_id[[ID]].rdmk' }]);
  assert.deepEqual(ext('image.png  -- >  [dbger@protonmail.com]image.png.dbger'), [{ kind: 'template', value: '[dbger@protonmail.com][ORIGINAL].dbger' }]);
  assert.deepEqual(ext('[16 uppercase hex].SYS'), [{ kind: 'template', value: '[RANDOM:16].sys' }]);
  const o = normaliseExtension('.id-<ID>_garryweber@protonmail.ch');
  assert.equal(o.status, 'normalised');
  assert.deepEqual((o as { emails: string[] }).emails, ['garryweber@protonmail.ch']);
  // The templates match the names they describe.
  const t = (v: string): RegExp => compileTemplate(v);
  assert.ok(t('.id-[ID].[[EMAIL]].java').test('report.docx.id-1E857D00.[decrypt@cock.li].java'));
  assert.ok(!t('.id-[ID].[[EMAIL]].java').test('report.docx.java'));
  assert.ok(t('[dbger@protonmail.com][ORIGINAL].dbger').test('[dbger@protonmail.com]image.png.dbger'));
  assert.ok(t('.id[[ID]-[RANDOM:4]].[[EMAIL]].8base').test('a.pdf.id[9CA5D5A0-2275].[support@rexxfield.com].8base'));
});

test('extension values: regexes, prefixes, underscores, and what is dropped', () => {
  assert.deepEqual(ext('([A-F0-9]{32}).locky'), [{ kind: 'regex', value: '^([A-F0-9]{32})\\.locky$' }]);
  assert.deepEqual(ext('[a-z]{4,6}'), [{ kind: 'regex', value: '\\.[a-z]{4,6}$' }]);
  assert.deepEqual(ext('(.*).encoded.([A-Z0-9]{9})'), [{ kind: 'regex', value: '^(.*)\\.encoded\\.([A-Z0-9]{9})$' }]);
  assert.deepEqual(ext('hydracrypt_ID_[\\w]{8}'), [{ kind: 'regex', value: '\\.hydracrypt_ID_[\\w]{8}$' }]);
  assert.deepEqual(ext('ISHTAR-. (prefix)'), [{ kind: 'regex', value: '^ishtar-' }]);
  assert.deepEqual(ext('(Lucifer) [prepend]'), [{ kind: 'regex', value: '^\\(lucifer\\)' }]);
  assert.deepEqual(ext('Lock.'), [{ kind: 'regex', value: '^lock\\.' }]);
  assert.deepEqual(ext('_locked'), [{ kind: 'regex', value: '_locked$' }]);
  assert.deepEqual(ext('-DATASTOP'), [{ kind: 'regex', value: '-datastop$' }]);
  assert.deepEqual(ext('.locked (added before the ending, not to the ending, for example: file.locked.doc'), [{ kind: 'regex', value: '\\.locked\\.[a-z0-9]{1,10}$' }]);
  const locky = compileExtension({ kind: 'regex', value: '^([A-F0-9]{32})\\.locky$' });
  assert.ok(locky?.test('0123456789ABCDEF0123456789ABCDEF.locky'));
  assert.match(ext('AES+RSA') as string, /encryption algorithm/);
  assert.match(ext('removes extensions') as string, /not extended/);
  assert.match(ext('.Encryption:') as string, /label/);
  assert.match(ext('<company_name>') as string, /organisation/);
  assert.match(ext('<random>.<random>, e.g. ,27p9k967z.x1nep') as string, /no fixed text/);
  assert.match(ext('files are encrypted with a very strong key') as string, /free text/);
  assert.match(ext('(a+)+{3}x') as string, /^dropped/);
  assert.match(ext('') as string, /empty/);
});

test('note names: placeholders → wildcards, paths, several in one, too generic', () => {
  assert.deepEqual(normaliseNoteName('[id]-Readme.txt'), { names: ['*-Readme.txt'], normalised: true });
  assert.deepEqual(normaliseNoteName('HOW_TO_DECRYPT_<random>.txt'), { names: ['HOW_TO_DECRYPT_*.txt'], normalised: true });
  assert.deepEqual(normaliseNoteName('_HELP_DECRYPT_[A-Z0-9]{4-8}_.hta'), { names: ['_HELP_DECRYPT_*_.hta'], normalised: true });
  assert.deepEqual(normaliseNoteName('_HELP_HELP_HELP_%random%.jpg'), { names: ['_HELP_HELP_HELP_*.jpg'], normalised: true });
  assert.deepEqual(normaliseNoteName('%AppData%\\WinCL\\winclwp.jpg'), { names: ['winclwp.jpg'], normalised: true });
  assert.deepEqual(normaliseNoteName('Recovery+<5 random chars>.txt, .html, e.g., Recovery+gwote.txt'), { names: ['Recovery+*.txt', 'Recovery+*.html'], normalised: true });
  assert.deepEqual(normaliseNoteName('<random>.hta | VAULT.hta'), { names: ['VAULT.hta'], normalised: true });
  assert.deepEqual(normaliseNoteName('DesktopOSIRIS.(bmp|htm)'), { names: ['DesktopOSIRIS.bmp', 'DesktopOSIRIS.htm'], normalised: true });
  assert.deepEqual(normaliseNoteName('READ THIS.txt.'), { names: ['READ THIS.txt'], normalised: true });
  assert.deepEqual(normaliseNoteName('_readme.txt'), { names: ['_readme.txt'], normalised: false });
  assert.ok('reason' in normaliseNoteName('<random>.gif'));
  assert.ok('reason' in normaliseNoteName('[victim_id].html'));
  assert.ok(compileNoteName('HOW_TO_DECRYPT_*.txt').test('how_to_decrypt_ABC.TXT'));
  assert.ok(!compileNoteName('HOW_TO_DECRYPT_*.txt').test('xHOW_TO_DECRYPT_A.txt'));
});

test('decryptor links are told from news', () => {
  assert.deepEqual(decryptorFromLink('https://decrypter.emsisoft.com/xorist'), { name: 'Emsisoft: xorist', url: 'https://decrypter.emsisoft.com/xorist' });
  assert.equal(decryptorFromLink('https://www.nomoreransom.org/uploads/ShadeDecryptor_how-to_guide.pdf')?.name, 'No More Ransom: ShadeDecryptor_how-to_guide');
  assert.equal(decryptorFromLink('https://noransom.kaspersky.com/')?.name, 'Kaspersky NoRansom decryptors');
  assert.equal(decryptorFromLink('https://files.avast.com/files/decryptor/avast_decryptor_mafiaware666.exe')?.name, 'Avast: avast_decryptor_mafiaware666');
  assert.equal(decryptorFromLink('https://www.emsisoft.com/en/ransomware-decryption/amnesia2/')?.name, 'Emsisoft: amnesia2');
  assert.equal(decryptorFromLink('https://labs.bitdefender.com/2021/01/darkside-ransomware-decryption-tool/')?.name, 'Bitdefender: darkside-ransomware-decryption-tool');
  assert.equal(decryptorFromLink('https://download.bleepingcomputer.com/demonslay335/StupidDecrypter.zip')?.name, 'BleepingComputer download: StupidDecrypter');
  assert.equal(decryptorFromLink('https://success.trendmicro.com/dcx/s/solution/1114221')?.name, 'Trend Micro: 1114221');
  assert.equal(decryptorFromLink('https://www.trendmicro.com/en_us/research/17/a/new-ransomware.html'), null);
  assert.equal(decryptorFromLink('https://decrypter.emsisoft.com/'), null, 'the index page is not a decryptor');
  assert.equal(decryptorFromLink('https://www.bleepingcomputer.com/news/security/new-ransomware-decrypt/'), null);
  assert.equal(decryptorFromLink('http://decryptjhpol6zezc72xb2mofmi6o7xlvacnrpbuiczz2sz5ljurg4id.onion/chat'), null);
  assert.equal(decryptorFromLink('not a url'), null);
  assert.equal(decryptorFromLink('ftp://decrypter.emsisoft.com/x'), null);
});

test('extensions named in descriptions (entries without an extensions key)', () => {
  assert.deepEqual(extensionsInDescription('It encrypts files and appends the ".hilda" extension. Similar to others.'), ['.hilda']);
  assert.deepEqual(extensionsInDescription('The filename extension .crlk is added; it targets .vmdk files.'), ['.crlk']);
  assert.deepEqual(extensionsInDescription('It renames encrypted files with .key.'), ['.key']);
  assert.deepEqual(extensionsInDescription('It encrypts .vmdk and .exe files; see example.com for more.'), []);
  assert.deepEqual(extensionsInDescription('Version 1.2 was seen in 2021.'), []);
  const { kb, report } = importMispGalaxy(galaxy([
    { value: 'A', description: 'appends the .aaa extension' },
    { value: 'B', description: 'appends the .bbb extension', meta: { extensions: ['.ccc'] } },
  ]), { facts: false });
  assert.deepEqual(kb.families.map((f) => f.extensions.map((e) => (e as { value: string }).value)), [['.aaa'], ['.ccc']]);
  assert.equal(report.fromDescriptions, 1);
});

test('contacts are extracted from note texts', () => {
  assert.deepEqual(extractEmails('Write to Files4463@tuta.io or .helpme@x.cc'), ['files4463@tuta.io', 'helpme@x.cc']);
  assert.deepEqual(extractOnions('http://abcdefghijklmnop.onion/x and ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abcdefghijklmnopqrstuvwx.onion'), ['abcdefghijklmnop.onion', 'abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion']);
});

const NOTE = 'All your files have been encrypted. To get them back write to paymentbtc@firemail.cc with your ID 1E857D00 in the subject. Free decryption of 1 file as guarantee.';

function galaxy(values: unknown[]): unknown {
  return { type: 'ransomware', version: 9, uuid: 'x', values };
}

test('an entry with misspelt keys, irregular values and links becomes a family', () => {
  const { kb, report } = importMispGalaxy(galaxy([{
    value: 'Example  Ransomware', uuid: '11111111-2222-3333-4444-555555555555',
    meta: {
      extension: ['.EXA', 'RANDOM 4 LETTERS ARE ADDED', 'AES-256'], 'ransomnotes-filesnames': ['HOW_TO_DECRYPT_<random>.txt', '<random>.gif'],
      ransomenotes: [NOTE, 'short note', 'https://example.org/note.png', 'README_NOW.txt'], Encryption: 'AES-256',
      links: ['https://decrypter.emsisoft.com/example', 'http:// abcdefghijklmnop.onion/'], refs: ['https://example.org/analysis', 'not a link'], synonyms: ['Exa', 'Example  Ransomware'],
    },
  }]), { facts: false, at: new Date('2026-01-01T00:00:00Z') });
  assert.deepEqual(validateKnowledgeBase(kb), []);
  assert.equal(kb.built.version, 9);
  assert.equal(kb.built.at, '2026-01-01T00:00:00.000Z');
  const f = kb.families[0] as Family;
  assert.equal(f.id, 'example-ransomware');
  assert.equal(f.name, 'Example Ransomware');
  assert.deepEqual(f.synonyms, ['Exa']);
  assert.deepEqual(f.extensions, [{ kind: 'suffix', value: '.exa' }, { kind: 'random', length: 4 }]);
  assert.deepEqual(f.noteNames, ['HOW_TO_DECRYPT_*.txt', 'README_NOW.txt']);
  assert.equal(f.noteHashes.length, 1);
  assert.ok(similarity(f.noteHashes[0] as number[], noteSignature(perturbNote(NOTE, 3))) > 0.8);
  assert.deepEqual(f.emails, ['paymentbtc@firemail.cc']);
  assert.deepEqual(f.onions, ['abcdefghijklmnop.onion']);
  assert.equal(f.encryption, 'AES-256');
  assert.deepEqual(f.decryptors, [{ name: 'Emsisoft: example', url: 'https://decrypter.emsisoft.com/example' }]);
  assert.deepEqual(f.refs, ['https://example.org/note.png', 'https://example.org/analysis'].sort((a, b) => Number(/png/.test(a)) - Number(/png/.test(b))));
  assert.deepEqual(f.sources, ['misp:11111111-2222-3333-4444-555555555555']);
  assert.deepEqual(report.extensions, { kept: 1, normalised: 1, dropped: 1 });
  assert.deepEqual(report.renamedKeys.map((k) => `${k.key}→${k.as}`).sort(), ['Encryption→encryption', 'extension→extensions', 'ransomenotes→ransomnotes', 'ransomnotes-filesnames→ransomnotes-filenames']);
  const at = report.problems.map((p) => p.at);
  for (const want of ['$.values[0].meta.extension[2]', '$.values[0].meta.ransomnotes-filesnames[1]', '$.values[0].meta.ransomenotes[1]', '$.values[0].meta.ransomenotes[2]', '$.values[0].meta.ransomenotes[3]', '$.values[0].meta.refs[1]', '$.values[0].meta.links[1]']) {
    assert.ok(at.includes(want), `${want} in ${at.join(', ')}`);
  }
});

test('hostile and broken galaxies never throw: problems with their location', () => {
  for (const bad of [null, 42, 'x', [], { values: 'x' }, { values: [null, 1, 'x', {}, { value: '' }, { value: 'A', meta: [] }, { value: 'B', meta: { extensions: 'x.y' } }, { value: 'C', meta: { extensions: [1, null, {}] } }] }]) {
    const { kb, report } = importMispGalaxy(bad, { facts: false, at: new Date(0) });
    assert.deepEqual(validateKnowledgeBase(kb), []);
    assert.ok(report.problems.length > 0);
  }
  const r = importMispGalaxy({ values: [null, { value: 'B', meta: { extensions: 'x.y' } }, { value: 'C', meta: { extensions: [1] } }, { value: 'A', meta: [] }] }, { facts: false, at: new Date(0) }).report;
  const at = r.problems.map((p) => p.at);
  assert.ok(at.includes('$.version') && at.includes('$.values[0]') && at.includes('$.values[2].meta.extensions[0]') && at.includes('$.values[3].meta'), at.join(', '));
  // Capped counts and lengths; duplicate names get distinct ids.
  const many = importMispGalaxy(galaxy([{ value: 'D', meta: { extensions: Array.from({ length: 5000 }, (_, i) => `.e${i}`) } }, { value: 'd' }, { value: 'E', meta: { ransomnotes: ['x '.repeat(40_000)] } }]), { facts: false, at: new Date(0) });
  assert.equal(many.kb.families.find((f) => f.name === 'D')?.extensions.length, 2000);
  assert.deepEqual(many.kb.families.map((f) => f.id).sort(), ['d', 'd-2', 'e']);
  assert.ok(many.report.problems.some((p) => /only the first 2000/.test(p.message)));
  assert.ok(many.report.problems.some((p) => /longer than 65536/.test(p.message)));
  const t0 = Date.now();
  importMispGalaxy(galaxy([{ value: 'F', meta: { extensions: ['('.repeat(3000), '<'.repeat(3000), `.${'a'.repeat(60_000)}`, '[a-z]{1,}'.repeat(200)], 'ransomnotes-filenames': ['<'.repeat(1000), '*'.repeat(1000)] } }]), { facts: false });
  assert.ok(Date.now() - t0 < 5000);
});

test('added facts: each with a public reference, valid, merged by name or synonym', (t) => {
  for (const f of FACTS) {
    assert.ok(f.refs.length > 0 && f.refs.every((r) => /^https:\/\//.test(r)), `${f.id}: refs`);
    assert.ok(f.extensions.length + f.noteNames.length > 0, `${f.id}: something to identify it by`);
  }
  const wanted = ['wannacry', 'stop-djvu', 'lockbit', 'conti', 'ryuk', 'dharma', 'phobos', 'gandcrab', 'revil', 'maze', 'jigsaw', 'xorist', 'teslacrypt', 'locky', 'cerber', 'black-basta', 'akira', 'alphv-blackcat', 'royal', 'clop', 'babuk', 'rhysida', 'hive', 'medusa', 'play', '8base'];
  assert.deepEqual(FACTS.map((f) => f.id), wanted);
  const { kb, report } = importMispGalaxy(galaxy([
    { value: 'WannaCry', uuid: 'aaaaaaaa-0000-0000-0000-000000000001', meta: { synonyms: ['WannaCrypt'], refs: ['https://example.org/wc'] } },
    { value: 'Virus-Encoder', uuid: 'aaaaaaaa-0000-0000-0000-000000000002', meta: { synonyms: ['CrySiS'], extensions: ['.xtbl'] } },
    { value: 'Dharma Ransomware', uuid: 'aaaaaaaa-0000-0000-0000-000000000003', meta: { ransomnotes: [NOTE] } },
    { value: 'MedusaLocker', uuid: 'aaaaaaaa-0000-0000-0000-000000000004', meta: { extensions: ['.1btc'] } },
  ]), { at: new Date(0) });
  assert.deepEqual(validateKnowledgeBase(kb), []);
  const wc = kb.families.find((f) => f.id === 'wannacry') as Family;
  assert.deepEqual(wc.extensions.slice(0, 4), ['.wncry', '.wcry', '.wnry', '.wncryt'].map((value) => ({ kind: 'suffix', value })));
  assert.ok(wc.noteNames.includes('@Please_Read_Me@.txt') && wc.noteNames.includes('@WanaDecryptor@.exe'));
  assert.equal(wc.markers[0]?.hex, Buffer.from('WANACRY!').toString('hex'));
  assert.deepEqual(wc.sources, ['misp:aaaaaaaa-0000-0000-0000-000000000001', 'vigil-facts']);
  assert.ok(wc.refs.includes('https://example.org/wc'));
  const dh = kb.families.find((f) => f.id === 'dharma') as Family;
  assert.deepEqual(dh.sources.slice(0, 2).sort(), ['misp:aaaaaaaa-0000-0000-0000-000000000002', 'misp:aaaaaaaa-0000-0000-0000-000000000003']);
  assert.ok(dh.synonyms.includes('Virus-Encoder'));
  assert.equal(dh.noteHashes.length, 1);
  assert.ok(dh.extensions.some((e) => e.kind === 'template' && e.value === '.id-[ID].[[EMAIL]].[EXT]'));
  assert.ok(kb.families.some((f) => f.name === 'MedusaLocker'), 'MedusaLocker is not Medusa');
  assert.equal(kb.families.find((f) => f.id === 'medusa')?.sources.length, 1);
  assert.equal(matchKey('Babuk Ransomsware'), 'babuk');
  t.diagnostic(`facts merged: ${report.merged.filter((m) => m.entries.length > 0).map((m) => `${m.family}←${m.entries.join('+')}`).join(', ')}`);
  // Without facts: the galaxy alone.
  assert.equal(importMispGalaxy(galaxy([{ value: 'WannaCry' }]), { facts: false }).kb.families[0]?.extensions.length, 0);
});

const SHIPPED = join(repoRoot(), 'db', 'ransom', 'kb.json');

test('the real galaxy: figures, and the shipped knowledge base rebuilt byte for byte', { skip: sharedGalaxyPath() === null ? NO_SHARED : false }, (t) => {
  const json: unknown = JSON.parse(readFileSync(sharedGalaxyPath() as string, 'utf8'));
  const t0 = Date.now();
  const { kb, report } = buildShippedKnowledgeBase(json);
  const ms = Date.now() - t0;
  assert.deepEqual(validateKnowledgeBase(kb), []);
  const e = report.extensions;
  t.diagnostic(`import: ${ms} ms; ${report.families} families (${report.identifiable} with an identifying signal); galaxy version ${kb.built.version}`);
  t.diagnostic(`extension values: ${e.kept + e.normalised + e.dropped}: kept ${e.kept}, normalised ${e.normalised}, dropped ${e.dropped}`);
  t.diagnostic(`note names ${report.noteNames}, note texts hashed ${report.notes}, decryptor links ${report.decryptors}, problems reported ${report.problems.length}, misspelt keys ${report.renamedKeys.length}, extensions from descriptions ${report.fromDescriptions}`);
  const bySuffix = new Map<string, Set<string>>();
  const kinds: Record<string, number> = {};
  for (const f of kb.families) {
    for (const x of f.extensions) {
      kinds[x.kind] = (kinds[x.kind] ?? 0) + 1;
      if (x.kind === 'suffix') bySuffix.set(x.value, (bySuffix.get(x.value) ?? new Set()).add(f.id));
    }
  }
  const shared = [...bySuffix].filter(([, s]) => s.size > 1).sort((a, b) => b[1].size - a[1].size);
  t.diagnostic(`patterns by kind: ${JSON.stringify(kinds)}; distinct suffixes ${bySuffix.size}, of which shared by 2+ families ${shared.length}`);
  t.diagnostic(`most ambiguous suffixes: ${shared.slice(0, 8).map(([k, s]) => `${k} → ${s.size}`).join(', ')}`);
  const byNote = new Map<string, number>();
  for (const f of kb.families) for (const n of f.noteNames) byNote.set(n.toLowerCase(), (byNote.get(n.toLowerCase()) ?? 0) + 1);
  t.diagnostic(`distinct note names ${byNote.size}; readme.txt → ${byNote.get('readme.txt')} families`);
  assert.equal(kb.built.version, 172);
  assert.match(kb.built.from, new RegExp(SHIPPED_BUILD.commit));
  assert.ok(report.families > 2000);
  assert.ok(bySuffix.size >= 600, `${bySuffix.size}`);
  assert.ok((bySuffix.get('.locked')?.size ?? 0) >= 40);
  assert.ok(e.dropped / (e.kept + e.normalised + e.dropped) < 0.03);
  assert.ok(report.notes >= 100);
  assert.ok(report.decryptors >= 60);
  // Every stored pattern compiles (or is a random length).
  for (const f of kb.families) for (const x of f.extensions) if (x.kind !== 'random') assert.ok(compileExtension(x) !== null, `${f.id}: ${JSON.stringify(x)}`);
  // The shipped file is exactly this.
  assert.ok(existsSync(SHIPPED), `${SHIPPED} is missing`);
  const bytes = serialiseKnowledgeBase(kb);
  t.diagnostic(`shipped knowledge base: ${Buffer.byteLength(bytes)} bytes`);
  assert.equal(readFileSync(SHIPPED, 'utf8'), bytes, 'db/ransom/kb.json differs from a rebuild: regenerate it with buildShippedKnowledgeBase');
});
