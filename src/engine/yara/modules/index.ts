/**
 * The registry of YARA modules: module name (as written in `import "name"`) → module. The
 * semantic checker resolves imports and member types in the module catalog; the evaluator calls
 * implementations found here. Every module of yara 4.2.3 and 4.5 is registered: the data modules
 * (`hash`, `math`, `string`, `time`, `console`, `tests`) fully, `cuckoo` and `magic` without their
 * external inputs, and the format modules (`pe`, `elf`, `macho`, `dex`, `dotnet`) in the state yara
 * leaves them for a file not of their format, until src/formats/ parses those formats.
 */
import { consoleModule } from './console.js';
import { cuckooModule } from './cuckoo.js';
import { dexModule } from './dex.js';
import { dotnetModule } from './dotnet.js';
import { elfModule } from './elf.js';
import { hashModule } from './hash.js';
import { machoModule } from './macho.js';
import { magicModule } from './magic.js';
import { mathModule } from './math.js';
import { peModule } from './pe.js';
import { stringModule } from './string.js';
import { testsModule } from './tests.js';
import { timeModule } from './time.js';
import type { YaraModule } from './types.js';

export const MODULES: ReadonlyMap<string, YaraModule> = new Map(
  [
    hashModule,
    mathModule,
    stringModule,
    timeModule,
    consoleModule,
    testsModule,
    peModule,
    elfModule,
    machoModule,
    dexModule,
    dotnetModule,
    cuckooModule,
    magicModule,
  ].map((m) => [m.name, m]),
);

/** The module named `name`, or undefined for an unknown module. */
export function getModule(name: string): YaraModule | undefined {
  return MODULES.get(name);
}

export * from './types.js';
export {
  consoleModule,
  cuckooModule,
  dexModule,
  dotnetModule,
  elfModule,
  hashModule,
  machoModule,
  magicModule,
  mathModule,
  peModule,
  stringModule,
  testsModule,
  timeModule,
};
