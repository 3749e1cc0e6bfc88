/**
 * Mixed document trees for the shield's tests.
 *
 * In: a folder, a number of documents, a seed. Out: the documents written (text, CSV, Markdown,
 * HTML, JSON, PDF, DOCX, XLSX, PNG, JPEG, GIF in sub-folders, 1–60 KiB, all valid files of their
 * format), and `hashTree` to compare a tree with what it was.
 * Why: detection must be measured on what users keep, not on random bytes: half of these are
 * structured text (low entropy), half are compressed containers or images with a signature.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDocx, makeGif, makeJpeg, makePdf, makePng, makeXlsx, prng, prose } from './formats.js';

const KINDS = ['txt', 'csv', 'pdf', 'docx', 'xlsx', 'jpg', 'png', 'md', 'html', 'json', 'docx', 'pdf', 'txt', 'jpg', 'gif'] as const;

/** The bytes of one document of `kind`. */
export function makeDocument(kind: string, rnd: () => number): Buffer {
  const para = (n: number): string[] => Array.from({ length: n }, () => prose(rnd, 20 + Math.floor(rnd() * 80)));
  switch (kind) {
    case 'txt': return Buffer.from(para(3 + Math.floor(rnd() * 40)).join('\n\n') + '\n');
    case 'md': return Buffer.from(`# ${prose(rnd, 4)}\n\n` + para(3 + Math.floor(rnd() * 20)).map((p) => `- ${p}`).join('\n') + '\n');
    case 'html': return Buffer.from(`<!doctype html><html><head><title>${prose(rnd, 3)}</title></head><body>` +
      para(3 + Math.floor(rnd() * 20)).map((p) => `<p>${p}</p>`).join('\n') + '</body></html>\n');
    case 'json': return Buffer.from(JSON.stringify(Array.from({ length: 10 + Math.floor(rnd() * 100) }, (_, i) => ({
      id: i, name: prose(rnd, 3), amount: Math.round(rnd() * 100000) / 100, paid: rnd() < 0.5,
    })), null, 2));
    case 'csv': return Buffer.from(['date,account,description,amount', ...Array.from({ length: 20 + Math.floor(rnd() * 600) }, () =>
      `2026-${1 + Math.floor(rnd() * 12)}-${1 + Math.floor(rnd() * 28)},ACC-${1000 + Math.floor(rnd() * 9000)},"${prose(rnd, 5)}",${(rnd() * 10000).toFixed(2)}`)].join('\n') + '\n');
    case 'pdf': return makePdf(para(5 + Math.floor(rnd() * 40)).flatMap((p) => p.match(/.{1,90}(\s|$)/g) ?? [p]), { title: prose(rnd, 3) });
    case 'docx': return makeDocx(para(5 + Math.floor(rnd() * 80)), { title: prose(rnd, 3), author: 'Office' });
    case 'xlsx': return makeXlsx(Array.from({ length: 10 + Math.floor(rnd() * 200) }, () =>
      [prose(rnd, 2), Math.round(rnd() * 1e6) / 100, Math.floor(rnd() * 1000), prose(rnd, 4)]));
    case 'jpg': return makeJpeg(64 + 8 * Math.floor(rnd() * 60), 48 + 8 * Math.floor(rnd() * 45), Math.floor(rnd() * 2 ** 31));
    case 'png': {
      const w = 16 + Math.floor(rnd() * 80);
      const h = 16 + Math.floor(rnd() * 80);
      const phase = rnd() * 10;
      return makePng(w, h, (x, y) => [(x * 4 + phase) & 255, (y * 3) & 255, ((x ^ y) + Math.floor(rnd() * 16)) & 255]);
    }
    case 'gif': return makeGif();
    default: throw new Error(`unknown document kind ${kind}`);
  }
}

/**
 * Writes `n` documents under `root`, spread over `dirs` sub-folders (and a few in the root itself).
 * Returns their paths.
 */
export function makeDocuments(root: string, n: number, opts: { seed?: number; dirs?: number } = {}): string[] {
  const rnd = prng(opts.seed ?? 42);
  const dirs = Array.from({ length: opts.dirs ?? 20 }, (_, i) => join(root, `${['Projects', 'Invoices', 'Photos', 'Reports', 'Letters'][i % 5]} ${2020 + (i % 7)}-${i}`));
  for (const d of dirs) mkdirSync(d, { recursive: true });
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const kind = KINDS[i % KINDS.length]!;
    const dir = i % 25 === 0 ? root : dirs[i % dirs.length]!;
    const p = join(dir, `${prose(rnd, 2).replace(/[^A-Za-z0-9 ]/g, '').slice(0, 30)} ${i}.${kind}`);
    writeFileSync(p, makeDocument(kind, rnd));
    out.push(p);
  }
  return out;
}

/** SHA-256 of every regular file under `root`, by path. */
export function hashTree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.set(p, createHash('sha256').update(readFileSync(p)).digest('hex'));
    }
  };
  walk(root);
  return out;
}

/** Documents of `before` that are no longer byte-identical at their path (changed or gone). */
export function changedSince(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...before.entries()].filter(([p, h]) => after.get(p) !== h).map(([p]) => p);
}
