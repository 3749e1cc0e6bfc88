/**
 * The worker side of `vigil yara -p N`: each worker thread compiles the same rule sources the main
 * thread compiled (already known to compile without errors) and then scans one file per task.
 *
 * In: the sources, externals and output options (init), then a path and the run's deadline per
 * task. Out: the file's `FileReport` (rendered lines, events for `-c`/`-l`, error), which the main
 * thread prints whole and in file order.
 *
 * Why compile per worker rather than share: compiled YARA rules hold closures and regex programs
 * that cannot cross a thread boundary; compiling rule text is fast next to scanning a tree. The
 * warnings were computed (and printed) by the main thread's compile, so the workers skip them.
 */
import { compileYara, type YaraSource } from '../engine/yara/rules.js';
import type { ExternalValue } from '../signatures/yara/check.js';
import { readInclude, scanListedFile, scanSetup, type FileReport, type RenderOptions } from './yara-report.js';

export interface YaraWorkerInit {
  sources: YaraSource[];
  externals: Record<string, ExternalValue>;
  strictEscape: boolean;
  render: RenderOptions;
}

export interface YaraWorkerTask {
  path: string;
  deadlineSec: number;
}

export function createYaraWorker(init: unknown): (task: YaraWorkerTask) => FileReport {
  const { sources, externals, strictEscape, render } = init as YaraWorkerInit;
  const setup = scanSetup(compileYara(sources, { externals, strictEscape, include: readInclude, warnings: false }));
  if (!setup) throw new Error('the rules did not compile in the worker');
  return (task) => scanListedFile(setup, task.path, render, task.deadlineSec);
}
