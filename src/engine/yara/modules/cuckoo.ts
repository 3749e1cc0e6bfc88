/**
 * YARA's `cuckoo` module without a sandbox report: every function (`cuckoo.network.dns_lookup(/re/)`,
 * `cuckoo.sync.mutex(/re/)`…) answers 0, as yara does when no report was given with
 * `-x cuckoo=REPORT` (vigil has no way to pass one yet).
 *
 * In: regular expressions (unused: there is nothing to match them against). Out: 0 from every
 * overload. Declarations come from the module catalog (declare.ts). Reading a Cuckoo JSON report
 * would give these functions their meaning; vigil does not do that.
 */
import { YARA_4_2_MODULES, type ModuleType } from '../../../signatures/yara/modules-catalog.js';
import { catalogDeclarations, type Implementations } from './declare.js';
import type { YaraModule } from './types.js';

/** `path(argcodes)` of every overload of the module, each answering 0. */
function noReport(): Implementations {
  const out: Record<string, () => bigint> = {};
  const walk = (path: string, t: ModuleType): void => {
    if (t.kind === 'struct') for (const [k, v] of Object.entries(t.fields)) walk(path ? `${path}.${k}` : k, v);
    else if (t.kind === 'function') for (const o of t.overloads) out[`${path}(${o.args.join('')})`] = () => 0n;
  };
  walk('', YARA_4_2_MODULES.cuckoo ?? { kind: 'struct', fields: {} });
  return out;
}

export const cuckooModule: YaraModule = {
  name: 'cuckoo',
  since: '3.0',
  declarations: catalogDeclarations('cuckoo', noReport()),
};
