/**
 * The full PE parser: untrusted bytes → everything YARA's `pe` module reports about a PE32 or PE32+
 * file (headers, sections, data directories, imports, delay imports, exports, resources and version
 * info, Rich header, PDB path, overlay, Authenticode signatures), the .NET metadata YARA's `dotnet`
 * module reports (dotnet.ts), and ClamAV's section and import hashes (clamav.ts).
 *
 * In: the file bytes. Out: `PeFull`, or undefined when YARA would not call the file a PE (see
 * image.ts). Each part is computed lazily on first access, so a rule that only reads
 * `pe.machine` does not walk the resource tree. Never throws on bad input: every reader is bounded
 * by the file size and by explicit caps documented in its file.
 */
import { parseAuthenticode, type Signature } from './authenticode.js';
import { parseExports, type ExportTable } from './exports.js';
import { peImage, rvaToOffset, type PeImage } from './image.js';
import { imphash, parseDelayImports, parseImports, type ImportTable } from './imports.js';
import { overlay, parsePdbPath, parseRich, type RichSignature } from './misc.js';
import { parseResources, type ResourceInfo } from './resources.js';

export type { PeImage, SectionHeader, DataDirectory } from './image.js';
export type { ImportTable, ImportedDll, ImportedFunction } from './imports.js';
export type { ExportTable, ExportEntry } from './exports.js';
export type { ResourceInfo, ResourceLeaf, VersionString } from './resources.js';
export type { RichSignature } from './misc.js';
export type { Signature } from './authenticode.js';
export { peImage, rvaToOffset, dataDirectory } from './image.js';
export { imphash } from './imports.js';
export { peHashHits, peHashLookups, type PeHashLookups, type PeHashPort } from './clamav.js';
export { parseDotnet, type DotnetInfo } from './dotnet.js';

export interface PeFull {
  readonly image: PeImage;
  readonly imports: ImportTable;
  readonly delayImports: ImportTable;
  readonly exports: ExportTable;
  /** Undefined when there is no resource directory YARA can reach. */
  readonly resources: ResourceInfo | undefined;
  readonly rich: RichSignature | undefined;
  readonly pdbPath: Uint8Array | undefined;
  readonly overlay: { offset: number; size: number };
  /** Undefined when the security directory entry is absent (NumberOfRvaAndSizes < 4). */
  readonly signatures: readonly Signature[] | undefined;
  readonly imphash: string;
  /** AddressOfEntryPoint as a file offset (-1 when it maps nowhere). */
  readonly entryPoint: number;
}

function lazy<T>(f: () => T): () => T {
  let done = false;
  let v: T;
  return () => {
    if (!done) {
      v = f();
      done = true;
    }
    return v;
  };
}

/** Parses `bytes` as a PE the way YARA does; undefined when it is not one. */
export function parsePeFull(bytes: Uint8Array): PeFull | undefined {
  const image = peImage(bytes);
  if (!image) return undefined;
  const imports = lazy(() => parseImports(image));
  const delayImports = lazy(() => parseDelayImports(image));
  const exports = lazy(() => parseExports(image));
  const resources = lazy(() => parseResources(image));
  const rich = lazy(() => parseRich(image));
  const pdb = lazy(() => parsePdbPath(image));
  const ov = lazy(() => overlay(image));
  const sigs = lazy(() => parseAuthenticode(image));
  const ih = lazy(() => imphash(imports()));
  return {
    image,
    get imports() { return imports(); },
    get delayImports() { return delayImports(); },
    get exports() { return exports(); },
    get resources() { return resources(); },
    get rich() { return rich(); },
    get pdbPath() { return pdb(); },
    get overlay() { return ov(); },
    get signatures() { return sigs(); },
    get imphash() { return ih(); },
    entryPoint: rvaToOffset(image, image.addressOfEntryPoint),
  };
}
