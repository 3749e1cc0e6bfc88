/**
 * YARA's `dotnet` module. For a file yara does not call a PE every member is UNDEFINED,
 * `dotnet.is_dotnet` included (yara 4.5 sets it to 0 there; the evaluator follows 4.2.3, the peer
 * of the differential tests); for a PE that is not a .NET assembly, `is_dotnet` is 0 and the rest
 * UNDEFINED; for an assembly, the members read from its metadata by src/formats/pefull/dotnet.ts.
 *
 * In: the scan context (the PE is parsed once per scan, shared with the `pe` module). Out: module
 * data. Declarations come from the module catalog (declare.ts), covering 4.2.3's members and 4.5's
 * additions (`dotnet.classes`…). Every yara 4.2.3 member is filled; yara 4.5's `classes` (type and
 * method definitions with signatures) stays UNDEFINED.
 */
import { parseDotnet } from '../../../formats/pefull/dotnet.js';
import { catalogDeclarations } from './declare.js';
import { peOf } from './pe.js';
import type { ModuleData, YaraModule } from './types.js';

export const dotnetModule: YaraModule = {
  name: 'dotnet',
  since: '3.6',
  declarations: catalogDeclarations('dotnet'),
  load: (ctx) => {
    const pe = peOf(ctx);
    if (!pe) return {};
    const info = ctx.formats.get('dotnet', () => parseDotnet(pe.image));
    if (!info.isDotnet) return { is_dotnet: 0n };
    const out: { [k: string]: ModuleData } = { is_dotnet: 1n, version: info.version };
    if (info.streams) {
      out['streams'] = info.streams.map((s) => ({ name: s.name, offset: BigInt(s.offset), size: BigInt(s.size) }));
      out['number_of_streams'] = BigInt(info.streams.length);
    }
    if (info.guids) {
      out['guids'] = info.guids.map((g) => new TextEncoder().encode(g));
      out['number_of_guids'] = BigInt(info.guids.length);
    }
    const t = info.tables;
    if (t) {
      const ver = (v: { major: number; minor: number; build: number; revision: number }): ModuleData => ({
        major: BigInt(v.major), minor: BigInt(v.minor), build_number: BigInt(v.build), revision_number: BigInt(v.revision),
      });
      if (t.moduleName) out['module_name'] = t.moduleName;
      if (t.assembly) out['assembly'] = { version: ver(t.assembly.version), name: t.assembly.name, culture: t.assembly.culture };
      if (t.assemblyRefs) {
        out['assembly_refs'] = t.assemblyRefs.map((r) => ({ version: ver(r.version), public_key_or_token: r.publicKeyOrToken, name: r.name }));
        out['number_of_assembly_refs'] = BigInt(t.assemblyRefs.length);
      }
      if (t.resources) {
        out['resources'] = t.resources.map((r) => ({ offset: BigInt(r.offset), length: BigInt(r.length), name: r.name }));
        out['number_of_resources'] = BigInt(t.resources.length);
      }
      if (t.moduleRefs) {
        out['modulerefs'] = t.moduleRefs;
        out['number_of_modulerefs'] = BigInt(t.moduleRefs.length);
      }
      if (t.constants) {
        out['constants'] = t.constants;
        out['number_of_constants'] = BigInt(t.constants.length);
      }
      if (t.fieldOffsets) {
        out['field_offsets'] = t.fieldOffsets.map((o) => BigInt(o));
        out['number_of_field_offsets'] = BigInt(t.fieldOffsets.length);
      }
      if (t.typelib) out['typelib'] = t.typelib;
    }
    if (info.userStrings) {
      out['user_strings'] = info.userStrings;
      out['number_of_user_strings'] = BigInt(info.userStrings.length);
    }
    return out;
  },
};
