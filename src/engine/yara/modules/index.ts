/**
 * The registry of YARA modules: module name (as written in `import "name"`) → module. The
 * semantic checker resolves imports and member types here; the evaluator calls implementations
 * found here. Format modules (`pe`, `elf`, `macho`, `dotnet`) join this table as they are built.
 */
import { consoleModule } from './console.js';
import { hashModule } from './hash.js';
import { mathModule } from './math.js';
import { stringModule } from './string.js';
import { timeModule } from './time.js';
import type { YaraModule } from './types.js';

export const MODULES: ReadonlyMap<string, YaraModule> = new Map(
  [hashModule, mathModule, stringModule, timeModule, consoleModule].map((m) => [m.name, m]),
);

/** The module named `name`, or undefined for an unknown module. */
export function getModule(name: string): YaraModule | undefined {
  return MODULES.get(name);
}

export * from './types.js';
export { consoleModule, hashModule, mathModule, stringModule, timeModule };
