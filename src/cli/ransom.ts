/**
 * `vigil ransom …`: offline ransomware help. This file holds the command group and its
 * `identify` subcommand; the other subcommands (knowledge-base import, decryption) are added to the
 * same group.
 *
 * `vigil ransom identify [--note FILE]... [--sample FILE]... [--dir DIR] [--kb FILE] [--top N] [--json]`
 * In: the arguments after `ransom`, output streams, the clock. Out: the ranked families with their
 * evidence, confidence and what to do, the ambiguities, and the problems met (each with its path);
 * exit 0 when a family was identified, 1 when nothing matched, 2 on a usage error, when the
 * knowledge base cannot be loaded, or when a named input could not be read.
 * Why: the victim's own machine reads the notes and files; nothing is uploaded, nothing is written.
 */
import { addImportMispCommand } from './ransom-kb.js';
import { addDecryptCommand, addRecoverKeyCommand } from './ransom-decrypt.js';
import type { Command } from 'commander';
import { commandGroup, parseCommand } from './program.js';
import { loadKnowledgeBase, activeKnowledgeBasePath } from '../ransom/kb/store.js';
import { whatToDo } from '../ransom/kb/advice.js';
import { compileKb, identify } from '../ransom/identify/score.js';
import { gatherSignals } from '../ransom/identify/signals.js';
import { renderJson, renderText } from '../ransom/identify/report.js';
import type { KnowledgeBase } from '../ransom/types.js';

export interface RansomDeps {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  now?: () => Date;
}

interface IdentifyOptions {
  note: string[];
  sample: string[];
  dir?: string;
  kb?: string;
  top: string;
  json: boolean;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** Adds `identify` to a `vigil ransom` group; the exit code is written to `out.code`. */
export function addIdentifyCommand(program: Command, deps: RansomDeps, out: { code: number }): void {
  program
    .command('identify')
    .description('identify the ransomware family from encrypted file names, ransom notes, contacts and file markers (offline)')
    .option('--note <file>', 'a ransom note (text or HTML; repeatable)', collect, [])
    .option('--sample <file>', 'an encrypted file (only its first and last 4 KiB are read; repeatable)', collect, [])
    .option('--dir <dir>', 'an affected directory to survey (at most 50,000 entries; links below it not followed)')
    .option('--kb <file>', 'the knowledge base (default: $VIGIL_HOME/ransom/kb.json when present, else the shipped one)')
    .option('--top <n>', 'how many candidates to show', '5')
    .option('--json', 'print the report as JSON', false)
    .action((o: IdentifyOptions) => {
      const top = Number(o.top);
      if (!/^\d{1,3}$/.test(o.top) || top < 1) {
        deps.stderr.write(`vigil ransom identify: --top: expected a whole number 1..999, found ${JSON.stringify(o.top)}\n`);
        out.code = 2;
        return;
      }
      if (o.note.length === 0 && o.sample.length === 0 && o.dir === undefined) {
        deps.stderr.write('vigil ransom identify: nothing to look at: give --note FILE, --sample FILE or --dir DIR\n');
        out.code = 2;
        return;
      }
      const kbPath = o.kb ?? activeKnowledgeBasePath();
      let kb: KnowledgeBase;
      try {
        kb = loadKnowledgeBase(kbPath);
      } catch (e) {
        deps.stderr.write(`vigil ransom identify: cannot load the knowledge base ${kbPath}: ${e instanceof Error ? e.message : String(e)}\n`);
        out.code = 2;
        return;
      }
      const index = compileKb(kb);
      const gathered = gatherSignals({ notes: o.note, samples: o.sample, ...(o.dir !== undefined ? { dir: o.dir } : {}), index });
      const identification = identify(gathered.signals, index);
      const input = { identification, gathered, kb, kbPath, top, advise: whatToDo };
      if (o.json) deps.stdout.write(JSON.stringify(renderJson(input)) + '\n');
      else deps.stdout.write(renderText(input));
      // A named input that could not be read at all is an error, whatever was found elsewhere
      // (said on stderr too; the report lists every problem).
      const named = new Set([...o.note, ...o.sample, ...(o.dir !== undefined ? [o.dir] : [])]);
      const errors = gathered.problems.filter((p) => named.has(p.path) && /^cannot read|^not a directory/.test(p.message));
      for (const p of errors) deps.stderr.write(`vigil ransom identify: ${p.path}: ${p.message}\n`);
      const failed = errors.length > 0;
      out.code = failed ? 2 : identification.candidates.length > 0 ? 0 : 1;
    });
}

/** `vigil ransom SUBCOMMAND …`: the exit code. */
export async function runRansom(args: string[], deps: RansomDeps): Promise<number> {
  const out = { code: 0 };
  const program = commandGroup('vigil ransom', deps)
    .description('offline ransomware help: identify the family, what to do, decrypt what generic flaws allow');
  addIdentifyCommand(program, deps, out);
  addImportMispCommand(program, deps, out);
  addRecoverKeyCommand(program, deps, out);
  addDecryptCommand(program, deps, out);
  const c = await parseCommand(program, args);
  return c ?? out.code;
}
