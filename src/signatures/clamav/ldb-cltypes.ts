/**
 * File-type names accepted by `.ldb` target description blocks (`Container`, `Intermediates`,
 * `HandlerType`).
 *
 * In: a name as written in a signature. Out: whether ClamAV 1.4's `cli_ftcode` knows it. ClamAV
 * skips a logical signature that names an unknown type (it is not an error), so the check decides
 * between loading and silently skipping. The name table itself lives in `formats/cltypes.ts`,
 * shared with `.cdb` and `.ftm`; this file keeps the `.ldb` parser's dependency on it in one place.
 */
import { isClType } from '../../formats/cltypes.js';

/** True when `name` is a `CL_TYPE_*` name ClamAV resolves (exact, case-sensitive). */
export function isLdbClType(name: string): boolean {
  return isClType(name);
}
