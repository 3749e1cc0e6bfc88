/**
 * YARA's `dotnet` module, in the state yara 4.2.3 leaves it for a file that is not a .NET
 * assembly: every member is UNDEFINED, `dotnet.is_dotnet` included (yara 4.5 sets it to 0 there;
 * the evaluator follows 4.2.3, the peer of the differential tests).
 *
 * In: the scan context (unused until the CLI metadata parser exists). Out: no data. Declarations
 * come from the module catalog (declare.ts), covering 4.2.3's members and 4.5's additions
 * (`dotnet.classes`…). The .NET parser of src/formats/ will fill them for assemblies.
 */
import { catalogDeclarations } from './declare.js';
import type { YaraModule } from './types.js';

export const dotnetModule: YaraModule = {
  name: 'dotnet',
  since: '3.6',
  declarations: catalogDeclarations('dotnet'),
  load: () => ({}),
};
