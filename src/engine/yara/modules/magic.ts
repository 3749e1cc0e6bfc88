/**
 * YARA's `magic` module: `magic.type()` and `magic.mime_type()`, libmagic's description and MIME
 * type of the scanned data (yara answers "data" and "application/octet-stream" for bytes libmagic
 * does not recognise).
 *
 * In: nothing yet. Out: UNDEFINED from both functions. vigil does not carry libmagic's database, so
 * rather than guess a description that would differ from yara's on most files, both functions are
 * UNDEFINED: a rule comparing them matches nothing (a deliberate difference, for
 * docs/compatibility.md). Declarations come from the module catalog (declare.ts).
 */
import { catalogDeclarations } from './declare.js';
import type { YaraModule } from './types.js';

export const magicModule: YaraModule = {
  name: 'magic',
  since: '3.1',
  declarations: catalogDeclarations('magic'),
};
