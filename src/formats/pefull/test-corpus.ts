/**
 * Test material for the PE readers (used by tests only): real PE32 and PE32+ executables built with
 * the MinGW-w64 cross compilers, and seeded hostile mutations of them.
 *
 * In: a scratch directory (and a `Prng`-like source of numbers for mutations). Out: named byte
 * arrays — EXEs and DLLs with exports, imports by name and by ordinal (ws2_32, oleaut32 and an
 * unknown DLL, through import libraries made by dlltool from .def files), a delay-import library,
 * resources made by windres (VERSIONINFO with StringFileInfo, RCDATA, a named type and name), extra
 * and long-named sections (COFF string table), stripped and unstripped images, appended overlays,
 * and a synthetic Rich header — or a reason to skip when a tool is missing.
 *
 * Why: the repository holds no executables; building them here with the real toolchain gives the
 * layouts real linkers produce, and the mutations reach the damaged layouts malware has.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { peImage, rvaToOffset, dataDirectory } from './image.js';

export interface CorpusFile {
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** Random numbers for mutations (test/helpers/prng.ts's `Prng` fits). */
export interface Rng {
  int(min: number, max: number): number;
  chance(p: number): boolean;
  bytes(n: number): Uint8Array;
  pick<T>(items: readonly T[]): T;
}

const ARCHES = [
  { arch: 'i686', gcc: 'i686-w64-mingw32-gcc', windres: 'i686-w64-mingw32-windres', dlltool: 'i686-w64-mingw32-dlltool', stdcall: true },
  { arch: 'x86_64', gcc: 'x86_64-w64-mingw32-gcc', windres: 'x86_64-w64-mingw32-windres', dlltool: 'x86_64-w64-mingw32-dlltool', stdcall: false },
] as const;

/** Why the corpus cannot be built here, or undefined when every tool is present. */
export function mingwMissing(): string | undefined {
  for (const a of ARCHES) {
    for (const tool of [a.gcc, a.windres, a.dlltool]) {
      if (spawnSync(tool, ['--version'], { encoding: 'utf8' }).status !== 0) return `${tool} is not installed`;
    }
  }
  return undefined;
}

const RC = `1 VERSIONINFO
FILEVERSION 1,2,3,4
PRODUCTVERSION 1,2,3,4
BEGIN
  BLOCK "StringFileInfo"
  BEGIN
    BLOCK "040904b0"
    BEGIN
      VALUE "CompanyName", "Vigil Test Co"
      VALUE "FileDescription", "A test file"
      VALUE "FileVersion", "1.2.3.4"
      VALUE "OriginalFilename", "sample.exe"
      VALUE "ProductName", "vigil"
      VALUE "Comments", ""
    END
  END
  BLOCK "VarFileInfo"
  BEGIN
    VALUE "Translation", 0x409, 1200
  END
END
2 RCDATA { "hello resource" }
MYRES MYTYPE { "named" }
3 RCDATA LANGUAGE 0x07, 0x01 { "german" }
`;

const EXE_C = `#include <winsock2.h>
#include <windows.h>
__declspec(dllexport) int foo(int x){ return x+1; }
__declspec(dllexport) int bar(int x){ return x*2; }
__attribute__((section(".vigil"))) int vdata[64] = {1,2,3};
__attribute__((section(".vigilongname"))) int vdata2[64] = {4};
int main(){ WSADATA w; WSAStartup(0x202,&w); MessageBoxA(0,"hi","t",0); return foo(1)+bar(2)+(int)GetTickCount()+vdata[1]+vdata2[0]; }
`;

const DLL_C = `extern int __stdcall closesocket(unsigned long long s);
extern unsigned short __stdcall htons(unsigned short);
extern void* __stdcall SysAllocString(const void*);
extern int vt_seven(void); extern int vt_named(void);
extern int vd_func(void); extern int vd_ord(void);
__declspec(dllexport) int exp_one(void){ return htons(3) + vt_seven() + vt_named(); }
__declspec(dllexport) int exp_two(void){ return closesocket(1) + (int)(long long)SysAllocString(0) + vd_func() + vd_ord(); }
__declspec(dllexport) int exp_three(void){ return 3; }
`;

function defs(stdcall: boolean): Record<string, string> {
  const s = (name: string, bytes: number): string => (stdcall ? `${name}@${bytes}` : name);
  return {
    ord: `LIBRARY ws2_32.dll\nEXPORTS\n${s('closesocket', 8)} @3 NONAME\n${s('htons', 4)} @9 NONAME\n`,
    ole: `LIBRARY oleaut32.dll\nEXPORTS\n${s('SysAllocString', 4)} @2 NONAME\n`,
    vt: 'LIBRARY vigtest.dll\nEXPORTS\nvt_seven @7 NONAME\nvt_named\n',
    vd: 'LIBRARY vigdelay.dll\nEXPORTS\nvd_func\nvd_ord @5 NONAME\n',
  };
}

function run(cmd: string, args: readonly string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
}

/** Builds the executables in `dir`. Throws when a tool fails (call `mingwMissing` first). */
export function buildMingwCorpus(dir: string): CorpusFile[] {
  const out: CorpusFile[] = [];
  writeFileSync(join(dir, 'sample.rc'), RC);
  writeFileSync(join(dir, 'exe.c'), EXE_C);
  writeFileSync(join(dir, 'dll.c'), DLL_C);
  for (const a of ARCHES) {
    const p = (n: string): string => join(dir, n);
    for (const [name, text] of Object.entries(defs(a.stdcall))) {
      writeFileSync(p(`${name}-${a.arch}.def`), text);
      const kill = a.stdcall ? ['-k'] : [];
      run(a.dlltool, [...kill, '-d', `${name}-${a.arch}.def`, name === 'vd' ? '-y' : '-l', `lib${name}-${a.arch}.a`], dir);
    }
    run(a.windres, ['sample.rc', '-O', 'coff', '-o', `res-${a.arch}.o`], dir);
    const exe = `exe-${a.arch}.exe`;
    run(a.gcc, ['-O1', 'exe.c', `res-${a.arch}.o`, '-o', exe, '-lws2_32'], dir);
    const exeStripped = `exe-${a.arch}-s.exe`;
    run(a.gcc, ['-O1', '-s', 'exe.c', `res-${a.arch}.o`, '-o', exeStripped, '-lws2_32'], dir);
    // Exports: the functions, an alias, a forwarder and an ordinal-only export.
    writeFileSync(p(`dll-${a.arch}.def`), 'EXPORTS\nexp_one @1\nexp_two @2\nexp_three @5\nexp_alias = exp_one @7\nfwd_sleep = kernel32.Sleep @9\nexp_hidden = exp_three @12 NONAME\n');
    const dll = `lib-${a.arch}.dll`;
    run(a.gcc, ['-shared', '-s', 'dll.c', `dll-${a.arch}.def`, '-o', dll, '-L.', `-lord-${a.arch}`, `-lole-${a.arch}`, `-lvt-${a.arch}`, `-lvd-${a.arch}`, '-ldelayimp'], dir);
    const dllFull = `libfull-${a.arch}.dll`;
    run(a.gcc, ['-shared', 'dll.c', `res-${a.arch}.o`, '-o', dllFull, '-L.', `-lord-${a.arch}`, `-lole-${a.arch}`, `-lvt-${a.arch}`, `-lvd-${a.arch}`, '-ldelayimp'], dir);
    for (const f of [exe, exeStripped, dll, dllFull]) {
      if (!existsSync(p(f))) throw new Error(`${f} was not built`);
      const bytes = new Uint8Array(readFileSync(p(f)));
      out.push({ name: f, bytes: f === dll || f === dllFull ? withDelayDirectory(bytes, 'vigdelay.dll') : bytes });
    }
    // Overlay appended to a stripped image (an unstripped one already ends with its symbol table).
    const stripped = new Uint8Array(readFileSync(p(exeStripped)));
    const overlay = new TextEncoder().encode('VIGIL-OVERLAY-'.repeat(40));
    const withOverlay = new Uint8Array(stripped.length + overlay.length);
    withOverlay.set(stripped);
    withOverlay.set(overlay, stripped.length);
    out.push({ name: `exe-${a.arch}-overlay.exe`, bytes: withOverlay });
    out.push({ name: `exe-${a.arch}-rich.exe`, bytes: withRich(stripped, 0x5a17c0de) });
    out.push(...signedVariants(dir, exeStripped, a.arch));
  }
  return out;
}

/** Whether openssl and osslsigncode are present (signed samples are built only then). */
export function signingTools(): boolean {
  return ['openssl', 'osslsigncode'].every((t) => spawnSync(t, ['version'], { encoding: 'utf8' }).status !== null && spawnSync('which', [t]).status === 0);
}

/**
 * Authenticode-signed copies of `exe`: one signature; two nested (a second certificate with a
 * UTF-8 subject, a multi-valued RDN and a control character); and a subject too long for YARA's
 * 256-byte rendering.
 */
function signedVariants(dir: string, exe: string, arch: string): CorpusFile[] {
  if (!signingTools()) return [];
  const p = (n: string): string => join(dir, n);
  const certs: [string, string, string][] = [
    ['c1', '/C=DE/ST=Berlin/O=Vigil Test/CN=Vigil Code Signing/emailAddress=a@b.c', '0x00a1b2c3d4'],
    ['c2', '/C=CH/L=Z\xC3\xBCrich/O=Vigil \x01Nested/OU=Unit+SN=Holder/CN=Nested Signer', '0xff01'],
    ['c3', `/C=US/O=Long Organisation Name${Array.from({ length: 9 }, (_, i) => `/OU=Department number ${i} of the long subject`).join('')}/CN=Long Subject Signer`, '7'],
  ];
  for (const [name, subj, serial] of certs) {
    if (existsSync(p(`${name}.pem`))) continue;
    run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '400', '-nodes',
      '-multivalue-rdn', '-utf8', '-subj', subj, '-set_serial', serial], dir);
  }
  const out: CorpusFile[] = [];
  const sign = (cert: string, input: string, output: string, nest: boolean): void => {
    run('osslsigncode', ['sign', '-certs', `${cert}.pem`, '-key', `${cert}.key`, ...(nest ? ['-nest'] : []), '-in', input, '-out', output], dir);
  };
  sign('c1', exe, `signed1-${arch}.exe`, false);
  sign('c2', `signed1-${arch}.exe`, `signed2-${arch}.exe`, true);
  sign('c3', exe, `signed3-${arch}.exe`, false);
  for (const f of [`signed1-${arch}.exe`, `signed2-${arch}.exe`, `signed3-${arch}.exe`]) out.push({ name: f, bytes: new Uint8Array(readFileSync(p(f))) });
  return out;
}

/** File offset → RVA through the section table (undefined outside every section's raw data). */
function offsetToRva(pe: Uint8Array, off: number): number | undefined {
  const img = peImage(pe);
  if (!img) return undefined;
  for (const s of img.sections) if (off >= s.pointerToRawData && off < s.pointerToRawData + s.sizeOfRawData) return s.virtualAddress + off - s.pointerToRawData;
  return undefined;
}

/**
 * GNU ld links delay-import tables made by `dlltool -y` but leaves the delay-import data directory
 * empty; this copy points directory 13 at the descriptor naming `dll` (Attributes 1, DllNameRVA).
 */
export function withDelayDirectory(pe: Uint8Array, dll: string): Uint8Array {
  const name = new TextEncoder().encode(`${dll}\0`);
  const at = Buffer.from(pe).indexOf(Buffer.from(name));
  const nameRva = at >= 0 ? offsetToRva(pe, at) : undefined;
  const img = peImage(pe);
  if (nameRva === undefined || !img) return pe;
  for (let o = 0; o + 32 <= pe.length; o += 4) {
    const v = (k: number): number => pe[o + k]! | (pe[o + k + 1]! << 8) | (pe[o + k + 2]! << 16) | (pe[o + k + 3]! << 24);
    if (v(0) === 1 && v(4) === nameRva) {
      const rva = offsetToRva(pe, o);
      if (rva === undefined) return pe;
      const b = pe.slice();
      put32(b, img.dataDirOffset + 8 * 13, rva);
      put32(b, img.dataDirOffset + 8 * 13 + 4, 64);
      return b;
    }
  }
  return pe;
}

function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = (v >>> 24) & 0xff;
}

/**
 * A copy of `pe` whose DOS stub (0x40 up to e_lfanew, at least 48 bytes) holds a Rich header with
 * three tool entries, XORed with `key`, as Microsoft's linker writes it.
 */
export function withRich(pe: Uint8Array, key: number): Uint8Array {
  const b = pe.slice();
  const entries: [number, number][] = [[0x00ff7809, 3], [0x01047809, 12], [0x00010000, 1]];
  let at = 0x40;
  put32(b, at, (0x536e6144 ^ key) >>> 0);
  put32(b, at + 4, key);
  put32(b, at + 8, key);
  put32(b, at + 12, key);
  at += 16;
  for (const [idv, times] of entries) {
    put32(b, at, (idv ^ key) >>> 0);
    put32(b, at + 4, (times ^ key) >>> 0);
    at += 8;
  }
  put32(b, at, 0x68636952);
  put32(b, at + 4, key);
  return b;
}

/** Interesting offsets of a PE's headers and directories, for targeted mutations. */
function targets(bytes: Uint8Array): number[] {
  const img = peImage(bytes);
  const t = [0, 0x3c];
  if (!img) return t;
  const l = img.lfanew;
  t.push(l, l + 4, l + 6, l + 8, l + 12, l + 16, l + 20, l + 22);
  const o = img.optOffset;
  for (const k of [0, 4, 16, 20, 24, 28, 32, 36, 56, 60, 64, 68, 70, img.pe64 ? 108 : 92]) t.push(o + k);
  for (let i = 0; i < 16; i++) t.push(img.dataDirOffset + 8 * i, img.dataDirOffset + 8 * i + 4);
  for (const s of img.sections) for (const k of [0, 8, 12, 16, 20, 36]) t.push(s.offset + k);
  for (const idx of [0, 1, 2, 6, 13]) {
    const dir = dataDirectory(img, idx);
    if (!dir || !dir.virtualAddress) continue;
    const off = rvaToOffset(img, dir.virtualAddress);
    if (off < 0) continue;
    for (let k = 0; k < 96; k += 2) t.push(off + k);
  }
  const sec = dataDirectory(img, 4);
  if (sec && sec.virtualAddress && sec.virtualAddress < bytes.length) {
    // The security directory holds a file offset; its DER lengths and tags are worth hitting.
    for (let k = 0; k < 600; k += 3) t.push(sec.virtualAddress + k);
  }
  return t.filter((x) => x >= 0 && x < bytes.length);
}

/** One seeded hostile mutation of `base`: a name for reports and the mutated bytes. */
export function mutatePe(rng: Rng, base: Uint8Array): { what: string; bytes: Uint8Array } {
  const kind = rng.int(0, 6);
  const b = base.slice();
  const spots = targets(base);
  const spot = (): number => spots[rng.int(0, spots.length - 1)]!;
  switch (kind) {
    case 0: {
      const n = rng.int(1, 8);
      for (let i = 0; i < n; i++) b[rng.int(0, Math.min(b.length, 0x600) - 1)] = rng.int(0, 255);
      return { what: `header bytes x${n}`, bytes: b };
    }
    case 1:
    case 2: {
      const at = spot();
      const v = rng.pick([0, 1, 0xffffffff, 0x80000000, 0x7fffffff, 0x200, 0x1000, 16, 17, 96, rng.int(0, 0xffffffff), rng.int(0, 0xffff), rng.int(0, base.length)]);
      if (at + 4 <= b.length) put32(b, at, v);
      return { what: `u32 0x${v.toString(16)} at 0x${at.toString(16)}`, bytes: b };
    }
    case 3: {
      const at = spot();
      const v = rng.int(0, 0xffff);
      if (at + 2 <= b.length) { b[at] = v & 0xff; b[at + 1] = v >>> 8; }
      return { what: `u16 0x${v.toString(16)} at 0x${at.toString(16)}`, bytes: b };
    }
    case 4: {
      const cut = rng.int(0, base.length);
      return { what: `truncated at ${cut}`, bytes: base.slice(0, cut) };
    }
    case 5: {
      // Resource entries pointing back at the root directory (a loop YARA bounds by depth).
      const img = peImage(base);
      const dir = img && dataDirectory(img, 2);
      const root = img && dir ? rvaToOffset(img, dir.virtualAddress) : -1;
      if (root >= 0 && root + 24 <= b.length) put32(b, root + 20, 0x80000000 | rng.int(0, 1) * 0x18);
      return { what: 'resource loop', bytes: b };
    }
    default: {
      const n = rng.int(1, 16);
      for (let i = 0; i < n; i++) b[spot()] = rng.int(0, 255);
      return { what: `directory bytes x${n}`, bytes: b };
    }
  }
}

/** Options of `buildDotnetPe`. */
export interface DotnetSpec {
  pe64: boolean;
  dll: boolean;
  version: string;
  userStrings: string[];
  guids: number;
  /** Include the #~ stream and the #Blob heap. */
  tables: boolean;
}

/**
 * A minimal .NET assembly built by code (no CLI compiler is installed here): a PE32 or PE32+ image
 * with one section holding the CLI header, the metadata root (`BSJB`, version string), the
 * #~ stream (Module, TypeRef, MemberRef, Constant, CustomAttribute with a GuidAttribute, ModuleRef,
 * FieldRVA, Assembly, AssemblyRef and ManifestResource tables), #Strings, #US, #GUID, #Blob, and
 * the managed resources the manifest points at.
 */
export function buildDotnetPe(rng: Rng, spec: DotnetSpec): Uint8Array {
  const enc = new TextEncoder();
  const heaps: [string, Uint8Array][] = [];
  // #Strings and #Blob, with the indexes the tables use.
  const strings: number[] = [0];
  const str = (t: string): number => { const at = strings.length; strings.push(...enc.encode(t), 0); return at; };
  const blobs: number[] = [0];
  const blob = (b: readonly number[]): number => { const at = blobs.length; blobs.push(b.length, ...b); return at; };
  const hex = (n: number): string => n.toString(16).padStart(8, '0');
  const guidText = `${hex(rng.int(0, 0xffffffff))}-1234-5678-9abc-def012345678`;
  const resources = [enc.encode('first resource data'), enc.encode('second')];
  let tilde = new Uint8Array(24);
  if (spec.tables) {
    const rows: [number, number[][]][] = [];
    const w16 = (v: number): number[] => [v & 0xff, (v >> 8) & 0xff];
    const w32 = (v: number): number[] => [...w16(v & 0xffff), ...w16(v >>> 16)];
    rows.push([0x00, [[...w16(0), ...w16(str('vigil.dll')), ...w16(1), ...w16(0), ...w16(0)]]]);
    rows.push([0x01, [[...w16(6), ...w16(str('GuidAttribute')), ...w16(str('System.Runtime.InteropServices'))], [...w16(6), ...w16(str('Object')), ...w16(str('System'))]]]);
    rows.push([0x0a, [[...w16((1 << 3) | 1), ...w16(str('.ctor')), ...w16(blob([0x20, 1, 1, 0x0e]))]]]);
    const cs = Buffer.from(rng.pick(['constant value', 'secret', '']), 'utf16le');
    rows.push([0x0b, [[0x0e, 0, ...w16(4), ...w16(blob([...cs]))], [0x08, 0, ...w16(8), ...w16(blob([1, 2, 3, 4]))]]]);
    const ga = [1, 0, guidText.length, ...enc.encode(guidText), 0, 0];
    rows.push([0x0c, [[...w16((1 << 5) | 0x0e), ...w16((1 << 3) | 3), ...w16(blob(ga))]]]);
    rows.push([0x1a, [[...w16(str('kernel32.dll'))], [...w16(str('user32'))]]]);
    rows.push([0x1d, [[...w32(0x2000), ...w16(1)], [...w32(0x7fff0000), ...w16(2)]]]);
    rows.push([0x20, [[...w32(0x8004), ...w16(1), ...w16(2), ...w16(3), ...w16(4), ...w32(0), ...w16(0), ...w16(str('VigilAssembly')), ...w16(rng.chance(0.5) ? str('de-DE') : 0)]]]);
    rows.push([0x23, [
      [...w16(4), ...w16(0), ...w16(0), ...w16(0), ...w32(0), ...w16(blob([0xb7, 0x7a, 0x5c, 0x56, 0x19, 0x34, 0xe0, 0x89])), ...w16(str('mscorlib')), ...w16(0), ...w16(0)],
      [...w16(1), ...w16(2), ...w16(3), ...w16(4), ...w32(0), ...w16(0), ...w16(str('Other.Lib')), ...w16(0), ...w16(0)],
    ]]);
    rows.push([0x28, [
      [...w32(0), ...w32(1), ...w16(str('res.first')), ...w16(0)],
      [...w32(4 + resources[0]!.length), ...w32(1), ...w16(str('res.second')), ...w16(0)],
      [...w32(0), ...w32(1), ...w16(str('res.external')), ...w16(1)],
    ]]);
    let validLo = 0;
    let validHi = 0;
    for (const [bit] of rows) if (bit < 32) validLo |= 1 << bit; else validHi |= 1 << (bit - 32);
    const t: number[] = [0, 0, 0, 0, 2, 0, 0, 1, ...w32(validLo >>> 0), ...w32(validHi >>> 0), 0, 0, 0, 0, 0, 0, 0, 0];
    for (const [, r] of rows) t.push(...w32(r.length));
    for (const [, r] of rows) for (const row of r) t.push(...row);
    tilde = Uint8Array.from(t);
    heaps.push(['#~', tilde]);
  }
  heaps.push(['#Strings', Uint8Array.from([...strings, 0, 0, 0])]);
  const us: number[] = [0];
  for (const s of spec.userStrings) {
    const units = Buffer.from(s, 'utf16le');
    const len = units.length + 1;
    if (len < 0x80) us.push(len);
    else us.push(0x80 | (len >> 8), len & 0xff);
    us.push(...units, 0);
  }
  while (us.length % 4) us.push(0);
  heaps.push(['#US', Uint8Array.from(us)]);
  heaps.push(['#GUID', rng.bytes(16 * spec.guids)]);
  if (spec.tables) heaps.push(['#Blob', Uint8Array.from(blobs)]);

  const ver = enc.encode(spec.version);
  const verLen = (ver.length + 1 + 3) & ~3;
  let headerLen = 16 + verLen + 4;
  for (const [name] of heaps) headerLen += 8 + ((name.length + 4) & ~3);
  const md: number[] = [];
  const w32 = (v: number): void => { md.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24); };
  w32(0x424a5342);
  md.push(1, 0, 1, 0);
  w32(0);
  w32(verLen);
  const v = new Uint8Array(verLen);
  v.set(ver);
  md.push(...v, 0, 0, heaps.length, 0);
  let dataAt = headerLen;
  for (const [name, data] of heaps) {
    w32(dataAt);
    w32(data.length);
    const n = new Uint8Array((name.length + 4) & ~3);
    n.set(enc.encode(name));
    md.push(...n);
    dataAt += (data.length + 3) & ~3;
  }
  for (const [, data] of heaps) {
    md.push(...data);
    while (md.length % 4) md.push(0);
  }

  const secRva = 0x2000;
  const cliAt = 8; // IAT-like stub first: FF 25 + address (the PE32 EXE entry point)
  const mdAt = cliAt + 72;
  const resAt = (mdAt + md.length + 3) & ~3;
  const resData: number[] = [];
  for (const r of resources) resData.push(r.length & 0xff, (r.length >> 8) & 0xff, 0, 0, ...r);
  const section = new Uint8Array(((resAt + resData.length + 0x1ff) & ~0x1ff) || 0x200);
  section.set(resData, resAt);
  section[0] = 0xff;
  section[1] = 0x25;
  const sv = new DataView(section.buffer);
  sv.setUint32(cliAt, 72, true);
  sv.setUint16(cliAt + 4, 2, true);
  sv.setUint16(cliAt + 6, 5, true);
  sv.setUint32(cliAt + 8, secRva + mdAt, true);
  sv.setUint32(cliAt + 12, md.length, true);
  sv.setUint32(cliAt + 16, 1, true);
  sv.setUint32(cliAt + 24, secRva + resAt, true);
  sv.setUint32(cliAt + 28, resData.length, true);
  section.set(md, mdAt);

  const optSize = spec.pe64 ? 0xf0 : 0xe0;
  const hdr = 0x200;
  const b = new Uint8Array(hdr + section.length);
  const dv = new DataView(b.buffer);
  b[0] = 0x4d; b[1] = 0x5a;
  dv.setUint32(0x3c, 0x80, true);
  dv.setUint32(0x80, 0x4550, true);
  dv.setUint16(0x84, spec.pe64 ? 0x8664 : 0x14c, true);
  dv.setUint16(0x86, 1, true);
  dv.setUint16(0x94, optSize, true);
  dv.setUint16(0x96, spec.dll ? 0x2102 : 0x102, true);
  const o = 0x98;
  dv.setUint16(o, spec.pe64 ? 0x20b : 0x10b, true);
  dv.setUint32(o + 16, secRva, true);
  dv.setUint32(o + 32, 0x2000, true);
  dv.setUint32(o + 36, 0x200, true);
  dv.setUint32(o + 56, secRva + section.length, true);
  dv.setUint32(o + 60, hdr, true);
  const dirs = o + (spec.pe64 ? 112 : 96);
  dv.setUint32(dirs - 4, 16, true);
  dv.setUint32(dirs + 8 * 14, secRva + cliAt, true);
  dv.setUint32(dirs + 8 * 14 + 4, 72, true);
  const s = o + optSize;
  b.set(enc.encode('.text'), s);
  dv.setUint32(s + 8, section.length, true);
  dv.setUint32(s + 12, secRva, true);
  dv.setUint32(s + 16, section.length, true);
  dv.setUint32(s + 20, hdr, true);
  dv.setUint32(s + 36, 0x60000020, true);
  b.set(section, hdr);
  return b;
}
