/**
 * Office layers: `vigil scan` against `clamscan` on seeded documents — OLE2 compound files (v3 and
 * v4 sectors, mini streams, nested storages, shuffled sectors), Word and Excel files with VBA
 * projects (marks in module source, compressed; some with the 97-2003 `_VBA_PROJECT` table), Word 6
 * macros, PowerPoint compressed storages, HWP 5 documents and HWP 3 embedded OLE2 files, MSI-style
 * packed stream names, MSO and OLE1 native streams, OOXML documents
 * made with `zip` holding a `vbaProject.bin`, RTF files with embedded objects, and files cut short
 * — the same `FOUND` lines and exit codes in default mode, with `--allmatch` and with
 * `--alert-macros`. Hash signatures cover stream contents and the VBA project listing ClamAV
 * scans. Skips with a message when clamscan 1.4 (or `zip`, for the OOXML files) is absent.
 */
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync, deflateSync } from 'node:zlib';
import { Prng } from '../helpers/prng.js';
import { CLAMSCAN_SKIP } from '../helpers/clamscan-run.js';
import { compareLayers, MARKS } from './layers-diff.js';
import { buildCfb, pptDocument, vbaProjectStreams, word6Document, type CfbStream, type VbaModule } from '../../src/formats/office/cfb-writer.js';
import { ole2Layers } from '../../src/formats/office/ole2.js';
import { isChild } from '../../src/formats/unpack.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';
const HAVE_ZIP = spawnSync('zip', ['-v']).status === 0;

const CTX = {
  limits: { maxFileSize: 100 * 1024 * 1024, maxFiles: 10000, maxScanSize: 400 * 1024 * 1024 },
  options: { heuristicAlerts: true, alertEncryptedArchive: false, alertEncryptedDoc: false, alertMacros: false },
};

/** The generated files, made once for both tests: the work directory and the hash lines. */
let generated: { dir: string; hashes: string[]; notes: string[] } | undefined;

function generate(): { dir: string; hashes: string[]; notes: string[] } {
  if (generated) return generated;
  const rng = new Prng(SEED);
  const notes: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-office-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const hashes: string[] = [];
  const hash = (body: Uint8Array): void => {
    if (body.length > 5) hashes.push(`${createHash('md5').update(body).digest('hex')}:${body.length}:Inner.Hash.${hashes.length}`);
  };
  const payload = (max = 9000): Buffer => {
    const parts: Buffer[] = [Buffer.from(rng.bytes(rng.int(0, max)))];
    if (rng.chance(0.4)) parts.push(Buffer.from(rng.pick(MARKS), 'latin1'));
    parts.push(Buffer.from(rng.bytes(rng.int(0, 300))));
    const body = Buffer.concat(parts);
    if (rng.chance(0.2)) hash(body);
    return body;
  };
  const name = (): string => rng.pick(['Data', 'Contents', 'Ole', 'CompObj', '\x05SummaryInformation', '1Table', 'Payload', 'ObjectPool']) + rng.int(0, 99);
  // Streams of a file ClamAV writes out (VBA, OLE1 objects) are scanned in the order the temporary
  // directory lists them (ext4's hash order): such files carry at most one planted stream, so that
  // the first detection does not depend on that order.
  const plainStreams = (planted = Infinity): CfbStream[] => {
    const out: CfbStream[] = [];
    for (let k = rng.int(1, 6); k > 0; k--) {
      const storage = rng.chance(0.3) ? `${name()}/` + (rng.chance(0.3) ? `${name()}/` : '') : '';
      const size = rng.pick([60, 3000, 9000]);
      out.push({ path: storage + name(), data: planted-- > 0 ? payload(size) : Buffer.from(rng.bytes(rng.int(1, size))) });
    }
    return out;
  };
  const module = (k: number): VbaModule => {
    const mark = rng.chance(0.6) ? rng.pick(MARKS) : 'nothing-here';
    const lines = Array.from({ length: rng.int(1, 40) }, (_, i) => `  x${i} = x${i} + ${rng.int(0, 1e6)}`).join('\r\n');
    return {
      name: k === 0 ? 'ThisDocument' : `Module${k}`,
      source: `Attribute VB_Name = "Module${k}"\r\nSub AutoOpen()\r\n${lines}\r\n  Shell   "cmd /c ${mark}" _\r\n    & "tail"\r\nEnd Sub\r\n`,
      cacheSize: rng.pick([0, 0, 17, 700, 5000]),
    };
  };
  const listingHash = (file: Uint8Array): void => {
    for (const it of ole2Layers(file, CTX)) if (isChild(it) && it.type === 'CL_TYPE_SCRIPT' && rng.chance(0.5)) hash(it.data);
  };
  const ole2 = (): Uint8Array => {
    const kind = rng.int(0, 10);
    let streams: CfbStream[];
    if (kind <= 1) {
      streams = plainStreams();
    } else if (kind === 2) {
      const prefix = rng.pick(['Macros/', '_VBA_PROJECT_CUR/', '']);
      streams = [
        { path: prefix === '_VBA_PROJECT_CUR/' ? 'Workbook' : 'WordDocument', data: Buffer.from(rng.bytes(rng.int(100, 6000))) },
        ...vbaProjectStreams(prefix, Array.from({ length: rng.int(1, 3) }, (_, k) => module(k)), (n) => Buffer.from(rng.bytes(n)), rng.chance(0.4)),
        ...(rng.chance(0.5) ? plainStreams(1) : []),
      ];
    } else if (kind === 3) {
      const inner = payload(20000);
      streams = [{ path: rng.pick(['ActiveMime', 'Data']), data: Buffer.concat([Buffer.from([inner.length & 0xff, (inner.length >> 8) & 0xff, inner.length >> 16, 0]), deflateSync(inner)]) }, ...plainStreams()];
    } else if (kind === 4) {
      streams = [{ path: '\x01Ole10Native', data: ole10Native(payload(5000)) }, ...(rng.chance(0.5) ? plainStreams(1) : [])];
    } else if (kind === 5) {
      // Word 6 macros (XOR-encoded; scanned raw, no hash signatures apply to them in ClamAV).
      const macros = Array.from({ length: rng.int(1, 3) }, () => ({
        code: Buffer.concat([Buffer.from(rng.bytes(rng.int(0, 400))), Buffer.from(rng.chance(0.6) ? rng.pick(MARKS) : 'plain', 'latin1'), Buffer.from(rng.bytes(rng.int(0, 100)))]),
        key: rng.pick([0, 0x5a, rng.int(1, 255)]),
      }));
      streams = [{ path: 'WordDocument', data: word6Document(macros) }, ...(rng.chance(0.5) ? plainStreams(1) : [])];
    } else if (kind === 6) {
      // PowerPoint: a compressed storage holding the VBA project.
      const inner = buildCfb(vbaProjectStreams('', [module(0), module(1)]));
      streams = [{ path: 'PowerPoint Document', data: pptDocument([inner], (b) => deflateSync(b)) }, { path: 'Current User', data: Buffer.from(rng.bytes(60)) }];
    } else if (kind === 7) {
      // HWP 5: body and binary streams are raw deflate (flag 1 in the file header).
      const header = Buffer.alloc(256);
      header.write('HWP Document File', 'latin1');
      header.writeUInt32LE(0x05000300, 32);
      header.writeUInt32LE(rng.pick([1, 1, 0, 3]), 36);
      streams = [
        { path: 'FileHeader', data: header },
        { path: 'BodyText/Section0', data: deflateRawSync(payload(6000)) },
        { path: 'BinData/BIN0001.bin', data: rng.chance(0.5) ? deflateRawSync(payload(3000)) : payload(3000) },
        { path: 'PrvText', data: payload(200) },
      ];
    } else if (kind === 8) {
      // Storages nested around the recursion limit (17): deeper ones end ClamAV's walk.
      const deep = Array.from({ length: rng.int(12, 20) }, (_, k) => `L${k}`).join('/');
      streams = [{ path: `${deep}/${name()}`, data: payload(2000) }, ...plainStreams()];
    } else if (kind === 9) {
      // MSI: stream names packed two characters to a code unit (0x3800…), tables marked 0x4840.
      const packed = (text: string): string => {
        const abc = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._';
        let out = '';
        for (let k = 0; k < text.length; k += 2) {
          const a = abc.indexOf(text[k]!), b = k + 1 < text.length ? abc.indexOf(text[k + 1]!) : -1;
          out += String.fromCharCode(b < 0 ? 0x4800 + a : 0x3800 + a + (b << 6));
        }
        return out;
      };
      streams = [
        { path: String.fromCharCode(0x4840) + packed('_StringPool'), data: Buffer.from(rng.bytes(rng.int(10, 200))) },
        { path: String.fromCharCode(0x4840) + packed('Binary.') + packed(`Payload${rng.int(0, 9)}`), data: payload(8000) },
        { path: '\x05SummaryInformation', data: Buffer.from(rng.bytes(300)) },
      ];
    } else {
      streams = plainStreams();
    }
    const version = rng.chance(0.25) ? 4 : 3;
    const file = buildCfb(streams, { version, ...(rng.chance(0.5) ? { shuffle: () => rng.float() } : {}) });
    listingHash(file);
    return file;
  };
  const ole10Native = (contents: Uint8Array): Buffer => {
    const label = `file${rng.int(0, 99)}.exe`;
    const native = Buffer.concat([
      Buffer.from([2, 0]), Buffer.from(`${label}\0C:\\in\\${label}\0`, 'latin1'), Buffer.from([0, 0, 3, 0, 9, 0, 0, 0]),
      Buffer.from(`C:\\t\\${label}\0`, 'latin1'), u32(contents.length), contents,
    ]);
    return Buffer.concat([u32(native.length), native]);
  };
  const u32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
  const hexLines = (b: Uint8Array): string => {
    const hex = Buffer.from(b).toString('hex');
    const upper = rng.chance(0.3) ? hex.toUpperCase() : hex;
    const width = rng.pick([64, 128, 1 << 30]);
    const out: string[] = [];
    for (let k = 0; k < upper.length; k += width) out.push(upper.slice(k, k + width));
    return out.join(rng.pick(['\r\n', '\n', ' ']));
  };
  const rtf = (): Buffer => {
    const objects: string[] = [];
    for (let k = rng.int(1, 2); k > 0; k--) {
      const ole = rng.chance(0.3);
      const cls = ole ? 'Word.Document.8' : 'Package';
      const body = ole ? ole2() : ole10Native(payload(6000)).subarray(4);
      const className = rng.chance(0.1) ? cls.padEnd(70, 'x') : cls;
      const header = Buffer.concat([Buffer.from('0105000002000000', 'hex'), u32(className.length + 1), Buffer.from(className + '\0', 'latin1'), Buffer.alloc(8), u32(body.length), body]);
      let hex = hexLines(header);
      if (rng.chance(0.1)) hex = hex.slice(0, rng.int(0, hex.length));
      // ClamAV's control word rules: `\objdata` counts only with a space after it, after `\object`.
      const word = rng.pick(['\\objdata ', '\\objdata ', '\\objdata ', '\\objdata\r\n', '\\OBJDATA ']);
      const object = rng.chance(0.9) ? '\\object\\objemb' : '\\object ';
      objects.push(`{${object}{\\*\\objclass ${cls}}\\objw1200\\objh800{\\*${word}${hex}}}`);
    }
    const filler = '{\\*\\generator ' + 'x'.repeat(rng.int(0, 12000)) + '}';
    return Buffer.from(`{\\rtf1\\ansi\\deff0${filler}{\\fonttbl{\\f0 Arial;}}\\pard Hello ${objects.join('\\par ')}\\par}`, 'latin1');
  };
  const docx = (k: number): Buffer | undefined => {
    if (!HAVE_ZIP) return undefined;
    const work = join(dir, `docx${k}`);
    mkdirSync(join(work, 'word', 'media'), { recursive: true });
    mkdirSync(join(work, '_rels'), { recursive: true });
    writeFileSync(join(work, '[Content_Types].xml'), '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>');
    writeFileSync(join(work, '_rels', '.rels'), '<?xml version="1.0"?><Relationships/>');
    writeFileSync(join(work, 'word', 'document.xml'), `<?xml version="1.0"?><w:document><w:body><w:p><w:r><w:t>${rng.chance(0.3) ? rng.pick(MARKS) : 'text'}</w:t></w:r></w:p></w:body></w:document>`);
    const project = buildCfb(vbaProjectStreams('', [module(0), module(1)]), rng.chance(0.5) ? { shuffle: () => rng.float() } : {});
    listingHash(project);
    writeFileSync(join(work, 'word', 'vbaProject.bin'), project);
    writeFileSync(join(work, 'word', 'media', 'image1.bin'), payload(3000));
    const out = join(dir, `doc${k}.docm`);
    const r = spawnSync('zip', ['-X', '-q', '-r', out, '[Content_Types].xml', '_rels', 'word'], { cwd: work });
    return r.status === 0 ? readFileSync(out) : undefined;
  };

  let n = 0;
  const put = (ext: string, bytes: Uint8Array): void => {
    let b = Buffer.from(bytes);
    if (rng.chance(0.12)) b = b.subarray(0, rng.int(600, b.length));
    writeFileSync(join(data, `f${String(n++).padStart(3, '0')}.${ext}`), b);
  };
  for (let k = 0; k < 70; k++) put('doc', ole2());
  // HWP 3 embeds OLE2 files after a 4-byte size (CL_TYPE_HWPOLE2).
  for (let k = 0; k < 5; k++) {
    const inner = buildCfb(plainStreams());
    put('hwp', Buffer.concat([u32(inner.length), inner]));
  }
  for (let k = 0; k < 20; k++) put('rtf', rtf());
  for (let k = 0; k < 12; k++) {
    const d = docx(k);
    if (d) put('docm', d);
  }
  if (!HAVE_ZIP) notes.push('zip is not installed: OOXML files left out');
  generated = { dir, hashes, notes };
  return generated;
}

test(`office layers: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const { dir, hashes, notes } = generate();
  for (const n of notes) t.diagnostic(n);
  await compareLayers(t, dir, hashes, [[], ['--alert-macros'], ['--alert-exceeds-max']]);
});

// ClamAV stops an OLE2 walk when the file's layers scanned so far (ctx->scannedfiles) and the
// streams counted reach MaxFiles. For a document nested in another layer (a PowerPoint storage,
// an RTF object) the reader needs that count from the engine (`scannedFiles` in its context).
test(`office layers with --max-files (seed ${SEED})`, { skip: CLAMSCAN_SKIP, todo: 'with several matching streams in an OLE2 object inside RTF, clamscan reports the one its temporary directory lists first (docs/roadmap.md)' }, async (t) => {
  const { dir, hashes } = generate();
  await compareLayers(t, dir, hashes, [['--max-files=5', '--alert-exceeds-max']]);
});

// Damaged documents: the generated OLE2 and RTF files with bytes changed (OLE2: mostly in the
// header, FAT and directory; RTF: braces, backslashes, hex digits and control-word letters), where
// only a reader that follows ClamAV's reads and checks step by step finds the same layers.
test(`office layers, mutated (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const { dir, hashes } = generate();
  const rng = new Prng(`${SEED}-mutated`);
  const out = mkdtempSync(join(tmpdir(), 'vigil-clam-office-mut-'));
  mkdirSync(join(out, 'data'));
  const rtfAlphabet = Buffer.from('{}\\ 0123456789abcdefABCDEFobjectdata\r\n-', 'latin1');
  for (const f of readdirSync(join(dir, 'data'))) {
    const ext = f.split('.').pop();
    if (ext !== 'doc' && ext !== 'rtf') continue;
    const b = readFileSync(join(dir, 'data', f));
    for (let k = 0; k < 4; k++) {
      const m = Buffer.from(b);
      for (let e = rng.int(1, 10); e > 0; e--) {
        if (ext === 'rtf') { m[rng.int(0, m.length - 1)] = rtfAlphabet[rng.int(0, rtfAlphabet.length - 1)]!; continue; }
        const r = rng.float();
        const at = r < 0.3 ? rng.int(44, 83) : r < 0.7 ? rng.int(0, Math.min(m.length, 4096) - 1) : rng.int(0, m.length - 1);
        m[at] = rng.chance(0.3) ? 0xff : rng.chance(0.5) ? rng.int(0, 7) : rng.int(0, 255);
      }
      writeFileSync(join(out, 'data', `${f}.${k}.${ext}`), m);
    }
  }
  await compareLayers(t, out, hashes, [[], ['--alert-macros']]);
});

// With --allmatch every layer's detections count. Two engine matters stand between vigil and
// clamscan here: the VBA project listing (typed CL_TYPE_SCRIPT) is scanned by ClamAV once, raw
// (cli_scan_desc), while the engine gives a forced type the passes of a file of that type
// (normalised text, then raw), so each listing detection is counted twice; and ClamAV scans the
// entries of an OOXML file a second time through its embedded-ZIP (ZIPSFX) scan.
test(`office layers with --allmatch (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const { dir, hashes } = generate();
  await compareLayers(t, dir, hashes, [['--allmatch'], ['--alert-macros', '--allmatch']]);
});
