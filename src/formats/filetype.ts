/**
 * File bytes → ClamAV's file type (`CL_TYPE_*`), and what that type means for a scan.
 *
 * In: the bytes of one file (only the first 1024 matter, except for the zip-member peek of OOXML
 * typing). Out: the `CL_TYPE_*` name ClamAV 1.4 gives the file at the top level (the value its
 * metadata JSON calls `RootFileType`), the signature targets that apply to a layer of that type,
 * and the passes ClamAV makes over it (raw bytes, normalised text, normalised HTML).
 *
 * Signatures are matched per target, so a wrong type silently changes which signatures can fire.
 * Typing therefore follows ClamAV's order of decisions step by step rather than any "better" idea
 * of what a file is:
 *
 * 1. The `.ftm` table, as data (`BUILTIN_FTM`, the 267 built-in lines ClamAV uses when no
 *    `daily.ftm` is loaded), filtered by functionality level. Type-0 lines are `memcmp` at a fixed
 *    offset and are tried in reverse table order (ClamAV prepends each to a list), so a later
 *    line with the same magic wins; the first hit decides.
 * 2. No magic: text detection over the buffer (`textType`): plain/ISO/extended ASCII, else UTF-8,
 *    else UTF-16 (a BOM picks the byte order; without one the data is read as big-endian from
 *    byte 2 on), else binary data. Because bytes 0x80-0xff all count as "ASCII" text, UTF-8 text
 *    is typed TEXT_ASCII and TEXT_UTF8 is unreachable; UTF-16LE without a BOM is typed UTF16BE,
 *    and so is most random binary.
 * 3. Binary data whose first 512 bytes form a tar header with a valid checksum is a tar file.
 *    A zip whose first local headers name `word/`, `xl/`, `ppt/` or `Contents/content.hpf` is the
 *    matching OOXML/HWP type.
 * 4. Text or binary data is then searched with the type-1 lines (body-signature syntax: nibbles,
 *    `??`, single-byte alternatives, `*`, `{n}`, `{n-m}`), emulating the order in which ClamAV's
 *    Aho-Corasick matcher reports them: a later report replaces the type when its code is bigger,
 *    or when it is an SFX-class or PE type; self-extractor types are then ignored at this stage.
 *    Failing that, the buffer is decoded as UTF-16 (two ways) and searched for HTML only.
 *
 * The type-1 matcher is deliberately tiny: the table uses only fixed-width elements, so a
 * pattern part is a list of byte predicates and the "report position" of a match is computed from
 * the static run ClamAV would put in its trie (`chooseAtom`). Type codes come from `cltypes.ts`.
 */

import { CL_TYPE_CODE, CL_TYPENO, CL_TYPES, isClType, type ClType } from './cltypes.js';
import { clamCentralOffset } from './zip.js';

// ───────────────────────────── type codes ─────────────────────────────

type TypeName = ClType | 'CL_TYPE_ERROR' | 'CL_TYPE_OTHER';

function code(name: TypeName): number {
  return CL_TYPE_CODE[name];
}

const NAME_OF_CODE: ReadonlyMap<number, ClType> = new Map(CL_TYPES.map((n) => [CL_TYPE_CODE[n], n]));

/** `cli_ftname`: the name of a code, or undefined for codes without one (ERROR, OTHER). */
export function typeName(typeCode: number): ClType | undefined {
  return NAME_OF_CODE.get(typeCode);
}

const T = {
  ANY: code('CL_TYPE_ANY'),
  TEXT_ASCII: code('CL_TYPE_TEXT_ASCII'),
  TEXT_UTF16LE: code('CL_TYPE_TEXT_UTF16LE'),
  TEXT_UTF16BE: code('CL_TYPE_TEXT_UTF16BE'),
  BINARY_DATA: code('CL_TYPE_BINARY_DATA'),
  MSEXE: code('CL_TYPE_MSEXE'),
  POSIX_TAR: code('CL_TYPE_POSIX_TAR'),
  OLD_TAR: code('CL_TYPE_OLD_TAR'),
  ZIP: code('CL_TYPE_ZIP'),
  HTML: code('CL_TYPE_HTML'),
  HTML_UTF16: code('CL_TYPE_HTML_UTF16'),
  SFX: code('CL_TYPE_SFX'),
  ZIPSFX: code('CL_TYPE_ZIPSFX'),
  RARSFX: code('CL_TYPE_RARSFX'),
  SEVENZSFX: code('CL_TYPE_7ZSFX'),
  CABSFX: code('CL_TYPE_CABSFX'),
  ARJSFX: code('CL_TYPE_ARJSFX'),
  EGGSFX: code('CL_TYPE_EGGSFX'),
  IGNORED: code('CL_TYPE_IGNORED'),
  OOXML_WORD: code('CL_TYPE_OOXML_WORD'),
  OOXML_PPT: code('CL_TYPE_OOXML_PPT'),
  OOXML_XL: code('CL_TYPE_OOXML_XL'),
  OOXML_HWP: code('CL_TYPE_OOXML_HWP'),
} as const;

/** Self-extractor types that typing ignores (they are looked for again during the raw scan). */
const SFX_DEFERRED: ReadonlySet<number> = new Set([T.ZIPSFX, T.ARJSFX, T.RARSFX, T.EGGSFX, T.CABSFX, T.SEVENZSFX]);

// ───────────────────────────── the built-in table ─────────────────────────────

/**
 * ClamAV 1.4's built-in file-type magic (`libclamav/filetypes_int.h`), one `.ftm` line each:
 * `magictype:offset:magic:description:required-type:result-type[:min-flevel[:max-flevel]]`.
 * It mirrors `daily.ftm` of daily.cvd 26198 and is what ClamAV uses when no `.ftm` is loaded.
 */
export const BUILTIN_FTM: readonly string[] = Object.freeze([
  '0:0:1f8b:GZip:CL_TYPE_ANY:CL_TYPE_GZ',
  '0:0:23407e5e:SCRENC:CL_TYPE_ANY:CL_TYPE_SCRENC',
  '0:0:28546869732066696c65206d75737420626520636f6e76657274656420776974682042696e48657820342e3029:BinHex:CL_TYPE_ANY:CL_TYPE_BINHEX',
  '0:0:2e524d46:Real Media File:CL_TYPE_ANY:CL_TYPE_IGNORED',
  '0:0:3e46726f6d20:Mail:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:424d:BMP:CL_TYPE_ANY:CL_TYPE_GRAPHICS',
  '0:0:425a68:BZip:CL_TYPE_ANY:CL_TYPE_BZ',
  '0:0:446174653a20:Mail:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:44656c6976657265642d546f3a20:Mail:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:44656c69766572792d646174653a20:Mail:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:456e76656c6f70652d746f3a20:Mail:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:466f723a20:Eserv mail:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:46726f6d20:MBox:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:46726f6d3a20:Exim mail:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:48692e20546869732069732074686520716d61696c2d73656e64:Qmail bounce:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:494433:MP3:CL_TYPE_ANY:CL_TYPE_IGNORED',
  '0:0:49545346:MS CHM:CL_TYPE_ANY:CL_TYPE_MSCHM',
  '0:0:4d5a:MS-EXE/DLL:CL_TYPE_ANY:CL_TYPE_MSEXE',
  '0:0:4d6573736167652d49443a20:Mail:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:4d6573736167652d49643a20:Mail:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:4f676753:Ogg Stream:CL_TYPE_ANY:CL_TYPE_IGNORED',
  '0:0:504b0304:ZIP:CL_TYPE_ANY:CL_TYPE_ZIP',
  '0:0:504b3030504b0304:ZIP:CL_TYPE_ANY:CL_TYPE_ZIP',
  '0:0:52494646:RIFF:CL_TYPE_ANY:CL_TYPE_RIFF',
  '0:0:52494658:RIFX:CL_TYPE_ANY:CL_TYPE_RIFF',
  '0:0:52617221:RAR:CL_TYPE_ANY:CL_TYPE_RAR',
  '0:0:52656365697665643a20:Raw mail:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:52657475726e2d506174683a20:Maildir:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:52657475726e2d706174683a20:Maildir:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:535a4444:compress.exed:CL_TYPE_ANY:CL_TYPE_MSSZDD',
  '0:0:5375626a6563743a20:Mail:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:546f3a20:Mail:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:582d4170706172656e746c792d546f3a20:Mail:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:582d455653:EVS mail:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:582d456e76656c6f70652d46726f6d3a20:Mail:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:582d4f726967696e616c2d546f3a20:Mail:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:582d5265616c2d546f3a20:Mail:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:582d53696576653a20:Mail:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:582d53796d616e7465632d:Symantec:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:582d5549444c3a20:Mail:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:60ea:ARJ:CL_TYPE_ANY:CL_TYPE_ARJ',
  '0:0:626567696e20:UUencoded:CL_TYPE_ANY:CL_TYPE_UUENCODED',
  '0:0:763a0a52656365697665643a20:VPOP3 Mail (UNIX):CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:763a0d0a52656365697665643a20:VPOP3 Mail (DOS):CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:789f3e22:TNEF:CL_TYPE_ANY:CL_TYPE_TNEF',
  '0:0:7f454c46:ELF:CL_TYPE_ANY:CL_TYPE_ELF',
  '0:0:b6b9acaefeffffff:CryptFF:CL_TYPE_ANY:CL_TYPE_CRYPTFF',
  '0:0:d0cf11e0a1b11ae1:OLE2 container:CL_TYPE_ANY:CL_TYPE_MSOLE2',
  '0:0:fffb90:MP3:CL_TYPE_ANY:CL_TYPE_IGNORED',
  '1:*:3c4120*(68|48)(72|52)4546:HTML data:CL_TYPE_ANY:CL_TYPE_HTML',
  '1:*:3c4120*(68|48)(72|52)6566:HTML data:CL_TYPE_ANY:CL_TYPE_HTML',
  '1:*:3c484541443e:HTML data:CL_TYPE_ANY:CL_TYPE_HTML',
  '1:*:3c48544d4c3e:HTML data:CL_TYPE_ANY:CL_TYPE_HTML',
  '1:*:3c486561643e:HTML data:CL_TYPE_ANY:CL_TYPE_HTML',
  '1:*:3c48746d6c3e:HTML data:CL_TYPE_ANY:CL_TYPE_HTML',
  '1:*:3c494652414d45:HTML data:CL_TYPE_ANY:CL_TYPE_HTML',
  '1:*:3c494d47:HTML data:CL_TYPE_ANY:CL_TYPE_HTML',
  '1:*:3c496d67:HTML data:CL_TYPE_ANY:CL_TYPE_HTML',
  '1:*:3c4f424a454354:HTML data:CL_TYPE_ANY:CL_TYPE_HTML',
  '1:*:3c4f626a656374:HTML data:CL_TYPE_ANY:CL_TYPE_HTML',
  '1:*:3c534352495054:HTML data:CL_TYPE_ANY:CL_TYPE_HTML',
  '1:*:3c536372697074:HTML data:CL_TYPE_ANY:CL_TYPE_HTML',
  '1:*:3c5441424c45:HTML data:CL_TYPE_ANY:CL_TYPE_HTML',
  '1:*:3c6120*(68|48)(72|52)4546:HTML data:CL_TYPE_ANY:CL_TYPE_HTML',
  '1:*:3c6120*(68|48)(72|52)6566:HTML data:CL_TYPE_ANY:CL_TYPE_HTML',
  '1:*:3c686561643e:HTML data:CL_TYPE_ANY:CL_TYPE_HTML',
  '1:*:3c68746d6c3e:HTML data:CL_TYPE_ANY:CL_TYPE_HTML',
  '1:*:3c696672616d65:HTML data:CL_TYPE_ANY:CL_TYPE_HTML',
  '1:*:3c696d67:HTML data:CL_TYPE_ANY:CL_TYPE_HTML',
  '1:*:3c6f626a656374:HTML data:CL_TYPE_ANY:CL_TYPE_HTML',
  '1:*:3c736372697074:HTML data:CL_TYPE_ANY:CL_TYPE_HTML',
  '1:*:3c7461626c65:HTML data:CL_TYPE_ANY:CL_TYPE_HTML',
  '1:*:4d5a{60-300}50450000:PE:CL_TYPE_ANY:CL_TYPE_MSEXE',
  '1:*:504b0304:ZIP-SFX:CL_TYPE_ANY:CL_TYPE_ZIPSFX',
  '1:*:526172211a0700:RAR-SFX:CL_TYPE_ANY:CL_TYPE_RARSFX',
  '1:*:60ea{7}0002:ARJ-SFX:CL_TYPE_ANY:CL_TYPE_ARJSFX',
  '1:*:60ea{7}0102:ARJ-SFX:CL_TYPE_ANY:CL_TYPE_ARJSFX',
  '1:*:60ea{7}0202:ARJ-SFX:CL_TYPE_ANY:CL_TYPE_ARJSFX',
  '1:*:a3484bbe986c4aa9994c530a86d6487d41553321454130(35|36):AUTOIT:CL_TYPE_ANY:CL_TYPE_AUTOIT',
  '1:*:efbeadde4e756c6c736f6674496e7374:NSIS:CL_TYPE_ANY:CL_TYPE_NULSFT',
  '0:0:5349502d48495420285349502f48:SIP log:CL_TYPE_ANY:CL_TYPE_IGNORED',
  '1:0:3c2540204c414e4755414745203d:HTML data:CL_TYPE_ANY:CL_TYPE_HTML',
  '0:257:7573746172:TAR-POSIX:CL_TYPE_ANY:CL_TYPE_POSIX_TAR',
  '0:0:5b616c69617365735d:mirc ini:CL_TYPE_ANY:CL_TYPE_SCRIPT',
  '1:0,1024:0a(46|66)726f6d3a20{-1024}0a(4d|6d)(49|69)(4d|6d)(45|65)2d(56|76)657273696f6e3a20:Mail file:CL_TYPE_ANY:CL_TYPE_MAIL',
  '1:0,1024:0a(46|66)726f6d3a20{-2048}0a(43|63)6f6e74656e742d(54|74)7970653a20:Mail file:CL_TYPE_ANY:CL_TYPE_MAIL',
  '1:0,1024:0a(4d|6d)(49|69)(4d|6d)(45|65)2d(56|76)657273696f6e3a20{-2048}0a(43|63)6f6e74656e742d(54|74)7970653a20:Mail file:CL_TYPE_ANY:CL_TYPE_MAIL',
  '1:0,1024:0a(4d|6d)6573736167652d(49|69)643a20{-1024}0a(43|63)6f6e74656e742d(54|74)7970653a20:Mail file:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:cefaedfe:Mach-O LE:CL_TYPE_ANY:CL_TYPE_MACHO:45',
  '0:0:cffaedfe:Mach-O LE 64-bit:CL_TYPE_ANY:CL_TYPE_MACHO:45',
  '0:0:feedface:Mach-O BE:CL_TYPE_ANY:CL_TYPE_MACHO:45',
  '0:0:feedfacf:Mach-O BE 64-bit:CL_TYPE_ANY:CL_TYPE_MACHO:45',
  '0:0:377abcaf271c:7zip:CL_TYPE_ANY:CL_TYPE_7Z:47',
  '0:0:52656365697665642d5350463a20:Mail file:CL_TYPE_ANY:CL_TYPE_MAIL',
  '1:0,2048:0a(52|72)656365697665643a20{-2048}0a(43|63)6f6e74656e742d(54|74)7970653a20:Mail file:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:303730373031:CPIO NEWC:CL_TYPE_ANY:CL_TYPE_CPIO_NEWC:45',
  '0:0:303730373032:CPIO CRC:CL_TYPE_ANY:CL_TYPE_CPIO_CRC:45',
  '0:0:303730373037:CPIO ODC:CL_TYPE_ANY:CL_TYPE_CPIO_ODC:45',
  '0:0:71c7:CPIO OLD BINARY BE:CL_TYPE_ANY:CL_TYPE_CPIO_OLD:45',
  '0:0:c771:CPIO OLD BINARY LE:CL_TYPE_ANY:CL_TYPE_CPIO_OLD:45',
  '1:*:496e7374616c6c536869656c6400{292}0600000000000000????????????????0000000001:ISHIELD-MSI:CL_TYPE_ANY:CL_TYPE_ISHIELD_MSI:45',
  '0:0:255044462d:PDF document:CL_TYPE_ANY:CL_TYPE_PDF:55',
  '1:*:255044462d??2e:PDF:CL_TYPE_ANY:CL_TYPE_PDF:55',
  '1:*:257064662d??2e:PDF:CL_TYPE_ANY:CL_TYPE_PDF:55',
  '0:0:53594d430100:SYM DATFILE:CL_TYPE_ANY:CL_TYPE_IGNORED',
  '1:0,128:2f5247420a49440affffffffffffffffffffffffffffffffffffffffffffffff:PDF image:CL_TYPE_ANY:CL_TYPE_IGNORED',
  '0:0:377f0682002de218:SQLite WAL:CL_TYPE_ANY:CL_TYPE_IGNORED',
  '0:0:377f0683002de218:SQLite WAL:CL_TYPE_ANY:CL_TYPE_IGNORED',
  '0:0:53514c69746520666f726d6174203300:SQLite database:CL_TYPE_ANY:CL_TYPE_IGNORED',
  '0:0:d9d505f920a163d7:SQLite journal:CL_TYPE_ANY:CL_TYPE_IGNORED',
  '0:0:465753:SWF (uncompressed):CL_TYPE_ANY:CL_TYPE_SWF:71',
  '0:0:4d53434600000000:MS CAB:CL_TYPE_ANY:CL_TYPE_MSCAB',
  '1:*:4d53434600000000:CAB-SFX:CL_TYPE_ANY:CL_TYPE_CABSFX',
  '1:*:014344303031{2043-2443}4344303031:ISO9660:CL_TYPE_ANY:CL_TYPE_ISO9660:71',
  '1:0,32768:004245413031:UDF:CL_TYPE_ANY:CL_TYPE_UDF:180',
  '0:0:5b616c69617365735d:TAR-POSIX-CVE-2012-1419:CL_TYPE_ANY:CL_TYPE_POSIX_TAR',
  '1:8,12:19040010:SIS:CL_TYPE_ANY:CL_TYPE_SIS',
  '1:0,1024:44656c6976657265642d546f3a{-256}52656365697665643a:Mail file:CL_TYPE_ANY:CL_TYPE_MAIL',
  '0:0:0000000c6a5020200d0a870a:JPEG2000:CL_TYPE_ANY:CL_TYPE_GRAPHICS',
  '0:0:000001b3:MPEG video stream:CL_TYPE_ANY:CL_TYPE_BINARY_DATA',
  '0:0:000001ba:MPEG sys stream:CL_TYPE_ANY:CL_TYPE_BINARY_DATA',
  '1:0:cafebabe0000000?:Universal Binary:CL_TYPE_ANY:CL_TYPE_MACHO_UNIBIN:75',
  '1:0:cafebabe0000001?:Universal Binary:CL_TYPE_ANY:CL_TYPE_MACHO_UNIBIN:75',
  '1:0:cafebabe0000002?:Java class file:CL_TYPE_ANY:CL_TYPE_JAVA:75',
  '1:0:cafebabe0000003?:Java class file:CL_TYPE_ANY:CL_TYPE_JAVA:75',
  '0:0:78617221:XAR container file:CL_TYPE_ANY:CL_TYPE_XAR:75',
  '1:EOF-512:6b6f6c79:DMG container file:CL_TYPE_ANY:CL_TYPE_DMG:75',
  '0:0:fd377a585a00:XZ container file:CL_TYPE_ANY:CL_TYPE_XZ:76',
  '4:1024:482B0004:HFS+ partition:CL_TYPE_PART_ANY:CL_TYPE_PART_HFSPLUS:75',
  '4:1024:48580005:HFSX partition:CL_TYPE_PART_ANY:CL_TYPE_PART_HFSPLUS:75',
  '1:0:3c3f786d6c2076657273696f6e3d22312e3022{0-1024}3c576f726b626f6f6b:Microsoft Excel 2003 XML Document:CL_TYPE_ANY:CL_TYPE_XML_XL:80',
  '1:0:3c3f786d6c2076657273696f6e3d22312e3022{0-1024}3c776f7264446f63756d656e74:Microsoft Word 2003 XML Document:CL_TYPE_ANY:CL_TYPE_XML_WORD:80',
  '1:0:3c3f786d6c2076657273696f6e3d22312e3022{0-1024}3c??3a576f726b626f6f6b:Microsoft Excel 2003 XML Document:CL_TYPE_ANY:CL_TYPE_XML_XL:80',
  '1:0:3c3f786d6c2076657273696f6e3d22312e3022{0-1024}3c??3a776f7264446f63756d656e74:Microsoft Word 2003 XML Document:CL_TYPE_ANY:CL_TYPE_XML_WORD:80',
  '0:512:4546492050415254:Disk Image - GUID Partition Table:CL_TYPE_ANY:CL_TYPE_GPT:77',
  '1:*:3c7864703a786470:Adobe XDP - Embedded PDF:CL_TYPE_ANY:CL_TYPE_XDP:79',
  '1:0:4552{510}504d0000:Disk Image - Apple Partition Map:CL_TYPE_ANY:CL_TYPE_APM:77',
  '1:510:55aa:Disk Image - Master Boot Record:CL_TYPE_ANY:CL_TYPE_MBR:77',
  '0:4:d0cf11e0a1b11ae1:HWP embedded OLE2:CL_TYPE_ANY:CL_TYPE_HWPOLE2:82',
  '1:0:efbbbf3c3f786d6c2076657273696f6e3d22312e3022*3c4857504d4c:HWPML Document:CL_TYPE_ANY:CL_TYPE_XML_HWP:82',
  '0:0:48575020446f63756d656e742046696c652056332e3030201a0102030405:HWP3 Document:CL_TYPE_ANY:CL_TYPE_HWP3:82',
  '0:0:7b5c7274:RTF:CL_TYPE_ANY:CL_TYPE_RTF:30',
  '0:0:cafebabe:Universal Binary/Java Bytecode:CL_TYPE_ANY:CL_TYPE_MACHO_UNIBIN:46:74',
  '0:0:252150532d41646f62652d:PostScript:CL_TYPE_ANY:CL_TYPE_ANY:51:82',
  '0:0:252150532d41646f62652d:PostScript:CL_TYPE_ANY:CL_TYPE_PS:83:83',
  '0:0:252150532d41646f62652d:PostScript:CL_TYPE_ANY:CL_TYPE_PS:90',
  '1:0:(4d|6d)(49|69)(4d|6d)(45|65)2d(56|76)657273696f6e3a20{-1024}0a(43|63)6f6e74656e742d(54|74)7970653a20:MHTML file:CL_TYPE_ANY:CL_TYPE_MHTML:83:83',
  '1:*:0a(4d|6d)(49|69)(4d|6d)(45|65)2d(56|76)657273696f6e3a20{-1024}0a(43|63)6f6e74656e742d(54|74)7970653a20:MHTML file:CL_TYPE_ANY:CL_TYPE_MHTML:83:83',
  '1:0:(4d|6d)(49|69)(4d|6d)(45|65)2d(56|76)657273696f6e3a20{-1024}0a(43|63)6f6e74656e742d(54|74)7970653a20:MHTML file:CL_TYPE_ANY:CL_TYPE_MHTML:90',
  '1:*:0a(4d|6d)(49|69)(4d|6d)(45|65)2d(56|76)657273696f6e3a20{-1024}0a(43|63)6f6e74656e742d(54|74)7970653a20:MHTML file:CL_TYPE_ANY:CL_TYPE_MHTML:90',
  '0:0:252150532d41646f62652d:PostScript:CL_TYPE_ANY:CL_TYPE_ANY:84:85',
  '0:0:4C0000000114020000000000C000000000000046:Microsoft Windows Shortcut File:CL_TYPE_ANY:CL_TYPE_LNK:100',
  '0:0:435753:SWF (zlib compressed):CL_TYPE_ANY:CL_TYPE_SWF:71',
  '0:0:45474741:Egg Archive:CL_TYPE_ANY:CL_TYPE_EGG:115',
  '0:0:89504e47:PNG:CL_TYPE_ANY:CL_TYPE_GRAPHICS::121',
  '0:0:89504e47:PNG:CL_TYPE_ANY:CL_TYPE_PNG:122',
  '0:0:474946:GIF:CL_TYPE_ANY:CL_TYPE_GRAPHICS::121',
  '0:0:474946:GIF:CL_TYPE_ANY:CL_TYPE_GIF:122',
  '0:0:ffd8ff:JPEG:CL_TYPE_ANY:CL_TYPE_GRAPHICS::121',
  '0:0:ffd8ff:JPEG:CL_TYPE_ANY:CL_TYPE_JPEG:122',
  '0:0:49492a00:TIFF Little Endian:CL_TYPE_ANY:CL_TYPE_TIFF:122',
  '0:0:4d4d:TIFF Big Endian:CL_TYPE_ANY:CL_TYPE_TIFF:122',
  '0:0:7b20224d61676963223a2022434c414d4a534f4e763022:Internal properties:CL_TYPE_ANY:CL_TYPE_INTERNAL:78:119',
  '0:0:7b0a2020224d61676963223a22434c414d4a534f4e763022:Internal properties:CL_TYPE_ANY:CL_TYPE_INTERNAL:120',
  '0:0:5a5753:SWF (LZMA compressed):CL_TYPE_ANY:CL_TYPE_SWF:81',
  '0:0:49492a00:TIFF Little Endian:CL_TYPE_ANY:CL_TYPE_GRAPHICS:81:121',
  '0:0:4d4d:TIFF Big Endian:CL_TYPE_ANY:CL_TYPE_GRAPHICS:81:121',
  '1:*:377abcaf271c:7zip-SFX:CL_TYPE_ANY:CL_TYPE_7ZSFX:74',
  '1:0:3c3f786d6c2076657273696f6e3d22312e3022{0-1024}70726f6769643d22576f72642e446f63756d656e74223f3e:Microsoft Word 2003 XML Document:CL_TYPE_ANY:CL_TYPE_XML_WORD:80',
  '0:0:e4525c7b8cd8a74daeb15378d02996d3:Microsoft OneNote Document:CL_TYPE_ANY:CL_TYPE_ONENOTE:200',
  '0:0:02099900:Python 1.0 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:03099900:Python 1.1/1.2 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:892e0d0a:Python 1.3 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:04170d0a:Python 1.4 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:994e0d0a:Python 1.5 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:fcc40d0a:Python 1.6 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:fdc40d0a:Python 1.6 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:87c60d0a:Python 2.0 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:88c60d0a:Python 2.0 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:2aeb0d0a:Python 2.1 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:2beb0d0a:Python 2.1 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:2ded0d0a:Python 2.2 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:2eed0d0a:Python 2.2 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:3bf20d0a:Python 2.3 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:3cf20d0a:Python 2.3 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:45f20d0a:Python 2.3 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:59f20d0a:Python 2.4 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:63f20d0a:Python 2.4 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:6df20d0a:Python 2.4 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:6ef20d0a:Python 2.4 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:77f20d0a:Python 2.5 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:81f20d0a:Python 2.5 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:8bf20d0a:Python 2.5 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:8cf20d0a:Python 2.5 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:95f20d0a:Python 2.5 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:9ff20d0a:Python 2.5 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:a9f20d0a:Python 2.5 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:b3f20d0a:Python 2.5 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:b4f20d0a:Python 2.5 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:c7f20d0a:Python 2.6 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:d1f20d0a:Python 2.6 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:d2f20d0a:Python 2.6 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:dbf20d0a:Python 2.7 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:e5f20d0a:Python 2.7 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:eff20d0a:Python 2.7 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:f9f20d0a:Python 2.7 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:03f30d0a:Python 2.7 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:04f30d0a:Python 2.7 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:0af30d0a:PyPy 2.7 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:b80b0d0a:Python 3.0 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:c20b0d0a:Python 3.0 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:cc0b0d0a:Python 3.0 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:d60b0d0a:Python 3.0 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:e00b0d0a:Python 3.0 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:ea0b0d0a:Python 3.0 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:f40b0d0a:Python 3.0 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:f50b0d0a:Python 3.0 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:ff0b0d0a:Python 3.0 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:090c0d0a:Python 3.0 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:130c0d0a:Python 3.0 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:1d0c0d0a:Python 3.0 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:1f0c0d0a:Python 3.0 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:270c0d0a:Python 3.0 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:3b0c0d0a:Python 3.0 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:450c0d0a:Python 3.1 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:4f0c0d0a:Python 3.1 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:580c0d0a:Python 3.2 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:620c0d0a:Python 3.2 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:6c0c0d0a:Python 3.2 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:760c0d0a:Python 3.3 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:800c0d0a:Python 3.3 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:8a0c0d0a:Python 3.3 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:940c0d0a:Python 3.3 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:9e0c0d0a:Python 3.3 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:b20c0d0a:Python 3.4 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:bc0c0d0a:Python 3.4 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:c60c0d0a:Python 3.4 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:d00c0d0a:Python 3.4 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:da0c0d0a:Python 3.4 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:e40c0d0a:Python 3.4 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:ee0c0d0a:Python 3.4 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:f80c0d0a:Python 3.5.1- byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:020d0d0a:Python 3.5.1- byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:0c0d0d0a:Python 3.5.1- byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:160d0d0a:Python 3.5.1- byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:170d0d0a:Python 3.5.2+ byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:200d0d0a:Python 3.6 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:210d0d0a:Python 3.6 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:2a0d0d0a:Python 3.6 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:2b0d0d0a:Python 3.6 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:2c0d0d0a:Python 3.6 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:2d0d0d0a:Python 3.6 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:2f0d0d0a:Python 3.6 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:300d0d0a:Python 3.6 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:310d0d0a:Python 3.6 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:320d0d0a:Python 3.6 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:330d0d0a:Python 3.6 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:3e0d0d0a:Python 3.7 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:3f0d0d0a:Python 3.7 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:f00d0d0a:PyPy 3.7 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:00010d0a:PyPy 3.8 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '0:0:50010d0a:PyPy 3.9 byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '1:0:??0d0d0a:Python 3.7 or newer byte-compiled (.pyc):CL_TYPE_ANY:CL_TYPE_PYTHON_COMPILED:200',
  '1:2:2d6c68(30|31|32|33|34|35|36|37|64|78)2d:LHA or LZH archive:CL_TYPE_ANY:CL_TYPE_LHA_LZH:210',
  '1:2:2d6c7a(73|34|35)2d:LHA archive using .LZS extension:CL_TYPE_ANY:CL_TYPE_LHA_LZH:210',
  '1:2:2d706d302d:LHA archive using PMarc (.PMA) extension:CL_TYPE_ANY:CL_TYPE_LHA_LZH:210',
  '0:0:414c5a01:ALZ:CL_TYPE_ANY:CL_TYPE_ALZ:210',
]);

/** Functionality level of the ClamAV build the oracle runs (1.4.6: 216; 1.4.5 reports 215). */
export const DEFAULT_FLEVEL = 216;

/** First bytes ClamAV reads to type a file (`CL_FILE_MBUFF_SIZE`). */
export const TYPE_BUFFER_SIZE = 1024;

/** Bytes read per window when peeking at zip member names past the first buffer (`MAGIC_BUFFER_SIZE`). */
const MAGIC_BUFFER_SIZE = 1028;

/** A type-0 (file) or type-4 (partition) line: `magic` must appear at exactly `offset`. */
export interface FtmMagic {
  offset: number;
  magic: Uint8Array;
  description: string;
  type: ClType;
}

/**
 * One byte predicate of a type-1 pattern: `(b & mask) === value`, or membership of `set` when
 * present. A literal is mask 0xff; `??` is mask 0; `a?` / `?a` are nibble masks.
 */
interface Elem {
  mask: number;
  value: number;
  set?: Uint8Array;
}

/** A piece of a type-1 pattern between `*` / `{n-m}` separators. */
interface Part {
  elems: Elem[];
  /** Gap allowed since the end of the previous part: [minDist, maxDist]; maxDist 0 = unbounded. */
  minDist: number;
  maxDist: number;
  /** Leading predicates matched backwards (ClamAV's "prefix"), then the static run in the trie. */
  prefix: number;
  depth: number;
}

type SigOffset = { kind: 'any' } | { kind: 'abs'; min: number; max: number } | { kind: 'relative' };

/** A type-1 line, compiled. */
export interface TypeSignature {
  description: string;
  type: ClType;
  requiredType: ClType;
  offset: SigOffset;
  parts: Part[];
  /** Position in load order; breaks ties between reports at the same byte. */
  order: number;
}

export interface CompiledFtm {
  /** Type-0 lines in lookup order (the last loaded first). */
  magics: FtmMagic[];
  /** Type-4 lines in lookup order. */
  partitions: FtmMagic[];
  /** Type-1 lines in load order. */
  signatures: TypeSignature[];
  /** Lines loaded (ClamAV's "Loaded N filetype definitions"). */
  loaded: number;
  /** Lines that could not be used, with the reason. ClamAV would refuse the whole table. */
  problems: string[];
}

/**
 * `.ftm` lines → a compiled table, keeping the lines whose functionality-level range includes
 * `flevel`. Never throws: an unusable line is listed in `problems` and left out.
 */
export function compileFtm(lines: readonly string[], flevel: number = DEFAULT_FLEVEL): CompiledFtm {
  const out: CompiledFtm = { magics: [], partitions: [], signatures: [], loaded: 0, problems: [] };
  lines.forEach((raw, lineNo) => {
    const line = raw.replace(/[\r\n]+$/, '');
    if (line === '' || line.startsWith('#')) return;
    const problem = (why: string): void => void out.problems.push(`line ${lineNo + 1}: ${why}`);
    const tok = line.split(':');
    if (tok.length < 6 || tok.length > 8) return problem(`expected 6 to 8 fields, found ${tok.length}`);
    const [kind, offsetText, hex, description, rtypeName, typeName] = tok as [string, string, string, string, string, string];
    if (tok.length > 6) {
      const minFl = tok[6]!;
      if (!/^\d*$/.test(minFl)) return problem('minimum functionality level is not a number');
      if (Number(minFl || '0') > flevel) return;
      if (tok.length === 8) {
        const maxFl = tok[7]!;
        if (!/^\d*$/.test(maxFl)) return problem('maximum functionality level is not a number');
        if (Number(maxFl || '0') < flevel) return;
      }
    }
    if (!isClType(rtypeName) || !isClType(typeName)) return problem('unknown CL_TYPE name');
    if (!/^\d+$/.test(kind)) return problem('magic type is not a number');
    const magicType = Number(kind);
    if (magicType === 1) {
      const offset = parseSigOffset(offsetText);
      if (!offset) return problem(`unsupported offset ${offsetText}`);
      const parts = parsePattern(hex);
      if (typeof parts === 'string') return problem(parts);
      out.signatures.push({ description, type: typeName, requiredType: rtypeName, offset, parts, order: out.signatures.length });
    } else if (magicType === 0 || magicType === 4) {
      if (!/^\d+$/.test(offsetText)) return problem('offset is not a number');
      const magic = hexBytes(hex);
      if (!magic) return problem('bad hex string');
      const entry: FtmMagic = { offset: Number(offsetText), magic, description, type: typeName };
      (magicType === 4 ? out.partitions : out.magics).unshift(entry);
    } else {
      return; // other magic types are skipped silently, as ClamAV does
    }
    out.loaded++;
  });
  return out;
}

function hexBytes(hex: string): Uint8Array | undefined {
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(hex)) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

// Offset := "*" | N [ "," MaxShift ] | "EOF-" N [ "," MaxShift ]
function parseSigOffset(text: string): SigOffset | undefined {
  if (text === '*') return { kind: 'any' };
  let m = /^(\d+)(?:,(\d+))?$/.exec(text);
  if (m) {
    const min = Number(m[1]);
    return { kind: 'abs', min, max: min + Number(m[2] ?? '0') };
  }
  m = /^EOF-(\d+)(?:,(\d+))?$/.exec(text);
  // Relative offsets are resolved only during a full scan; while typing they never match.
  if (m) return { kind: 'relative' };
  return undefined;
}

/**
 * ClamAV rewrites `{n}` with 0 < n < 128 as n `??`, but only while such a gap is the first brace
 * left in the pattern; any later brace, whatever its form, separates parts.
 */
function expandShortGaps(hex: string): string {
  for (;;) {
    const m = /\{(\d+)\}/.exec(hex);
    const first = hex.indexOf('{');
    if (!m || m.index !== first) return hex;
    const n = Number(m[1]);
    if (n <= 0 || n >= 128) return hex;
    hex = hex.slice(0, m.index) + '??'.repeat(n) + hex.slice(m.index + m[0].length);
  }
}

/**
 * Pattern := Part { Sep Part }, Sep := "*" | "{" n "}" | "{" [n] "-" [m] "}".
 * Part := { "hh" | "??" | "h?" | "?h" | "(" hh { "|" hh } ")" }.
 */
function parsePattern(pattern: string): Part[] | string {
  const hex = expandShortGaps(pattern);
  const parts: Part[] = [];
  let elems: Elem[] = [];
  let minDist = 0;
  let maxDist = 0;
  const endPart = (): string | undefined => {
    const atom = chooseAtom(elems);
    if (!atom) return `no static run of 2 bytes in part ${parts.length + 1} of ${hex}`;
    parts.push({ elems, minDist, maxDist, prefix: atom.prefix, depth: atom.depth });
    elems = [];
    return undefined;
  };
  const nib = (c: string): number => parseInt(c, 16);
  let i = 0;
  while (i < hex.length) {
    const c = hex[i]!;
    if (c === '*') {
      const err = endPart();
      if (err) return err;
      minDist = 0;
      maxDist = 0;
      i++;
    } else if (c === '{') {
      const close = hex.indexOf('}', i);
      if (close < 0) return 'missing }';
      const body = hex.slice(i + 1, close);
      i = close + 1;
      const err = endPart();
      if (err) return err;
      const m = /^(\d*)(-?)(\d*)$/.exec(body);
      if (!m || (m[2] === '' && m[3] !== '')) return `bad range {${body}}`;
      minDist = Number(m[1] || '0');
      maxDist = m[2] === '' ? minDist : Number(m[3] || '0');
    } else if (c === '(') {
      const close = hex.indexOf(')', i);
      if (close < 0) return 'missing )';
      const alts = hex.slice(i + 1, close).split('|');
      const set = new Uint8Array(256);
      for (const a of alts) {
        if (!/^[0-9a-fA-F]{2}$/.test(a)) return `unsupported alternative (${alts.join('|')})`;
        set[parseInt(a, 16)] = 1;
      }
      elems.push({ mask: 0, value: 0, set });
      i = close + 1;
    } else {
      const pair = hex.slice(i, i + 2);
      if (pair.length < 2) return 'odd hex length';
      const [h, l] = [pair[0]!, pair[1]!];
      if (h === '?' && l === '?') elems.push({ mask: 0, value: 0 });
      else if (l === '?' && /[0-9a-fA-F]/.test(h)) elems.push({ mask: 0xf0, value: nib(h) << 4 });
      else if (h === '?' && /[0-9a-fA-F]/.test(l)) elems.push({ mask: 0x0f, value: nib(l) });
      else if (/^[0-9a-fA-F]{2}$/.test(pair)) elems.push({ mask: 0xff, value: parseInt(pair, 16) });
      else return `bad hex ${pair}`;
      i += 2;
    }
  }
  const err = endPart();
  return err ?? parts;
}

const AC_MIN_DEPTH = 2;
const AC_MAX_DEPTH = 3;

const isWild = (e: Elem | undefined): boolean => e !== undefined && (e.mask !== 0xff || e.set !== undefined);
// In ClamAV's 16-bit pattern units a wildcard is never zero; only a literal 00 is.
const nonZero = (e: Elem | undefined): boolean => e !== undefined && (isWild(e) || e.value !== 0);

/**
 * Which run of a part goes into ClamAV's trie. A part is entered by its first 2-3 static bytes,
 * unless it starts with a wildcard or with zeros; then the longest static run (preferring the
 * rightmost of equal runs, and one not starting 00 00) becomes the entry and what precedes it is
 * a prefix matched backwards. This decides at which byte a match is reported, and so the order
 * in which overlapping type matches are seen.
 */
function chooseAtom(elems: readonly Elem[]): { prefix: number; depth: number } | undefined {
  const n = elems.length;
  let wildPrefix = false;
  let zeroPrefix = true;
  for (let i = 0; i < AC_MAX_DEPTH && i < n; i++) {
    if (isWild(elems[i])) {
      wildPrefix = true;
      break;
    }
    if (zeroPrefix && nonZero(elems[i])) zeroPrefix = false;
  }
  let pos = 0;
  if (wildPrefix || zeroPrefix) {
    let len = 0;
    let nzPos = 0;
    let nzLen = 0;
    const end = n - AC_MIN_DEPTH + 1;
    for (let i = 0; i < end; i++) {
      for (let j = i; j < i + AC_MAX_DEPTH && j < n; j++) {
        if (isWild(elems[j])) break;
        if (j - i + 1 >= len) {
          len = j - i + 1;
          pos = i;
        }
        if (nonZero(elems[pos]) || (n > pos + 1 && nonZero(elems[pos + 1]))) {
          if (len >= AC_MAX_DEPTH) break;
          if (len >= AC_MIN_DEPTH && len > nzLen) {
            nzLen = len;
            nzPos = pos;
          }
        }
      }
      if (len >= AC_MAX_DEPTH && (nonZero(elems[pos]) || nonZero(elems[pos + 1]))) break;
    }
    if (nzLen !== 0 && n > pos + 1 && !nonZero(elems[pos]) && !nonZero(elems[pos + 1])) {
      len = nzLen;
      pos = nzPos;
    }
    if (len < AC_MIN_DEPTH) return undefined;
  }
  let depth = 0;
  while (depth < AC_MAX_DEPTH && pos + depth < n && !isWild(elems[pos + depth])) depth++;
  if (depth < AC_MIN_DEPTH) return undefined;
  return { prefix: pos, depth };
}

let builtin: CompiledFtm | undefined;

/** The built-in table compiled at the default functionality level (compiled once). */
export function builtinFtm(): CompiledFtm {
  return (builtin ??= compileFtm(BUILTIN_FTM, DEFAULT_FLEVEL));
}

// ───────────────────────────── type-1 matching ─────────────────────────────

function elemMatches(e: Elem, b: number): boolean {
  return e.set ? e.set[b] === 1 : (b & e.mask) === e.value;
}

function partMatchesAt(part: Part, buf: Uint8Array, len: number, start: number): boolean {
  const n = part.elems.length;
  if (start < 0 || start + n > len) return false;
  for (let k = 0; k < n; k++) if (!elemMatches(part.elems[k]!, buf[start + k]!)) return false;
  return true;
}

interface Report {
  /** Byte index at which ClamAV's trie reaches the end of the part's static run. */
  at: number;
  depth: number;
  sig: TypeSignature;
  partNo: number;
  start: number;
  end: number;
}

/** Partial matches of one multi-part signature: ClamAV's fixed ring of 8+1 offsets per part. */
const TRACK = 8;
const NONE = -1;

function newMatrix(parts: number): number[][] {
  return Array.from({ length: parts }, () => {
    const row = new Array<number>(TRACK + 2).fill(NONE);
    row[0] = 0;
    return row;
  });
}

/** Index of the reports: for each possible first trie byte, the (signature, part) pairs entered by it. */
interface ReportIndex {
  byFirst: { sig: TypeSignature; partNo: number }[][];
}

const indexCache = new WeakMap<readonly TypeSignature[], ReportIndex>();

function reportIndex(sigs: readonly TypeSignature[]): ReportIndex {
  let idx = indexCache.get(sigs);
  if (idx) return idx;
  idx = { byFirst: Array.from({ length: 256 }, () => []) };
  for (const sig of sigs) {
    sig.parts.forEach((part, k) => {
      const first = part.elems[part.prefix]!;
      idx!.byFirst[first.value]!.push({ sig, partNo: k + 1 });
    });
  }
  indexCache.set(sigs, idx);
  return idx;
}

/**
 * Runs the type-1 signatures over `buf[0..len)` the way a file-type-only Aho-Corasick pass of
 * ClamAV does, and returns the resulting type code (0 = none). `currentType` is the type known so
 * far, checked against each line's required type.
 *
 * Reports are processed in trie order: by the byte that completes a part's static run, longer
 * runs first, then part number, then load order. A single-part line sets the type when its type
 * is bigger than the current one, or is an SFX-class type, or is MSEXE; CL_TYPE_IGNORED ends the
 * search at once. A later part counts only after an earlier part ended within its gap, with
 * ClamAV's bounded memory of earlier part positions.
 */
function matchTypeCodes(buf: Uint8Array, len: number, sigs: readonly TypeSignature[], currentType: number): number {
  const idx = reportIndex(sigs);
  const reports: Report[] = [];
  for (let q = 0; q < len; q++) {
    const cands = idx.byFirst[buf[q]!];
    if (!cands || cands.length === 0) continue;
    for (const { sig, partNo } of cands) {
      const part = sig.parts[partNo - 1]!;
      const start = q - part.prefix;
      if (!partMatchesAt(part, buf, len, start)) continue;
      if (partNo === 1) {
        const off = sig.offset;
        if (off.kind === 'relative') continue;
        if (off.kind === 'abs' && (start < off.min || start > off.max)) continue;
      }
      reports.push({ at: start + part.prefix + part.depth - 1, depth: part.depth, sig, partNo, start, end: start + part.elems.length });
    }
  }
  reports.sort((a, b) => a.at - b.at || b.depth - a.depth || a.partNo - b.partNo || a.sig.order - b.sig.order);

  let type: number = T.ANY;
  const matrices = new Map<TypeSignature, number[][]>();
  const accepts = (t: number, sig: TypeSignature): boolean => {
    const rt = code(sig.requiredType);
    return (t > type || t >= T.SFX || t === T.MSEXE) && (rt === T.ANY || rt === currentType);
  };
  for (const r of reports) {
    const sig = r.sig;
    const t = code(sig.type);
    const rt = code(sig.requiredType);
    const parts = sig.parts.length;
    if (parts === 1) {
      if (t === T.IGNORED && (rt === T.ANY || rt === currentType)) return T.IGNORED;
      if (accepts(t, sig)) type = t;
      continue;
    }
    const m = stepMatrix(matrices, r);
    if (m) {
      if (t === T.IGNORED && (rt === T.ANY || rt === currentType)) return T.IGNORED;
      if (accepts(t, sig)) {
        type = t;
        matrices.set(sig, newMatrix(parts));
      }
    }
  }
  return type;
}

/**
 * One report of a multi-part type signature through ClamAV's bounded memory of part positions
 * (a ring of 8+1 per part): a later part counts only after an earlier part ended within its gap.
 * Returns the signature's matrix when this report completes a match (its last row holds the start
 * of every first part still tracked), undefined otherwise.
 */
function stepMatrix(matrices: Map<TypeSignature, number[][]>, r: Report): number[][] | undefined {
  const sig = r.sig;
  const parts = sig.parts.length;
  let m = matrices.get(sig);
  if (r.partNo !== 1 && (!m || m[r.partNo - 2]![0] === 0)) return undefined;
  if (!m) matrices.set(sig, (m = newMatrix(parts)));
  const part = sig.parts[r.partNo - 1]!;
  let found = 0;
  if (r.partNo !== 1) {
    const prev = m[r.partNo - 2]!;
    for (let j = 1; j <= TRACK + 1 && prev[j] !== NONE; j++) {
      const prevEnd = prev[j]!;
      found = j;
      if (r.start < prevEnd) found = 0;
      if (found && part.maxDist && r.start - prevEnd > part.maxDist) found = 0;
      if (found && part.minDist && r.start - prevEnd < part.minDist) found = 0;
      if (found) break;
    }
  }
  if (r.partNo === 2 && found > 1) {
    // ClamAV moves the pairing it used to the front; this changes which entry a wrap overwrites.
    const swap = (row: number[]): void => {
      const x = row[1]!;
      row[1] = row[found]!;
      row[found] = x;
    };
    swap(m[0]!);
    if (sig.type !== 'CL_TYPE_MSEXE') swap(m[parts - 1]!);
  }
  if (r.partNo === 1 || (found && r.partNo !== parts)) {
    const row = m[r.partNo - 1]!;
    if (row[0] === TRACK + 1) row[0] = 1;
    row[0] = row[0]! + 1;
    row[row[0]!] = r.end;
    if (r.partNo === 1) m[parts - 1]![m[0]![0]!] = r.start;
    return undefined;
  }
  return found && r.partNo === parts ? m : undefined;
}

/**
 * The type the type-1 signatures give `buf` (all of it is searched), or `CL_TYPE_ANY` when none
 * matches. This is the search ClamAV runs over the first 1024 bytes while typing, and over whole
 * layers during the raw scan (where an HTML or mail result redirects text files to the HTML or
 * mail parser).
 */
export function matchTypeSignatures(
  buf: Uint8Array,
  currentType: ClType = 'CL_TYPE_ANY',
  table: CompiledFtm = builtinFtm(),
): ClType {
  return typeName(matchTypeCodes(buf, buf.length, table.signatures, code(currentType))) ?? 'CL_TYPE_ANY';
}

// ───────────────────────────── text detection ─────────────────────────────

// Character classes of text detection: never in text, plain ASCII, ISO-8859, non-ISO extended.
const F = 0;
const A = 1;
const TEXT_CLASS: Uint8Array = (() => {
  const t = new Uint8Array(256).fill(2);
  for (let c = 0; c < 0x80; c++) t[c] = c >= 0x20 && c < 0x7f ? A : F;
  for (const c of [0x07, 0x08, 0x09, 0x0a, 0x0c, 0x0d, 0x1b]) t[c] = A; // BEL BS HT LF FF CR ESC
  for (let c = 0x80; c < 0xa0; c++) t[c] = 3;
  t[0x85] = A; // NEL
  return t;
})();

function isAsciiText(buf: Uint8Array): boolean {
  for (let i = 0; i < buf.length; i++) if (TEXT_CLASS[buf[i]!] === F) return false;
  return true;
}

function isUtf8Text(buf: Uint8Array): boolean {
  let gotOne = false;
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i]!;
    if ((b & 0x80) === 0) {
      if (TEXT_CLASS[b] !== A) return false;
      continue;
    }
    if ((b & 0x40) === 0) return false;
    let following: number;
    if ((b & 0x20) === 0) following = 1;
    else if ((b & 0x10) === 0) following = 2;
    else if ((b & 0x08) === 0) following = 3;
    else if ((b & 0x04) === 0) following = 4;
    else if ((b & 0x02) === 0) following = 5;
    else return false;
    for (let j = 0; j < following; j++) {
      if (++i >= buf.length) return gotOne;
      const c = buf[i]!;
      if ((c & 0x80) === 0 || (c & 0x40) !== 0) return false;
    }
    gotOne = true;
  }
  return gotOne;
}

/** 0 = not UTF-16, 1 = little-endian, 2 = big-endian. */
function utf16Order(buf: Uint8Array): 0 | 1 | 2 {
  const len = buf.length;
  if (len < 2) return 0;
  let be = true;
  let bom = true;
  if (buf[0] === 0xff && buf[1] === 0xfe) be = false;
  else if (!(buf[0] === 0xfe && buf[1] === 0xff)) bom = false;
  let bad = 0;
  // The first two bytes are skipped whether or not they are a BOM.
  for (let i = 2; i + 1 < len; i += 2) {
    const c = be ? buf[i + 1]! + 256 * buf[i]! : buf[i]! + 256 * buf[i + 1]!;
    if (c === 0xfffe) return 0;
    if (c < 128 && TEXT_CLASS[c] !== A) {
      if (!bom) return 0;
      bad++;
    }
  }
  if (bom && bad >= Math.floor(len / 2)) return 0;
  return be ? 2 : 1;
}

/** ClamAV's text detection (`cli_texttype`) over a typing buffer. */
export function textType(buf: Uint8Array): ClType {
  if (isAsciiText(buf)) return 'CL_TYPE_TEXT_ASCII';
  if (isUtf8Text(buf)) return 'CL_TYPE_TEXT_UTF8';
  const order = utf16Order(buf);
  if (order === 1) return 'CL_TYPE_TEXT_UTF16LE';
  if (order === 2) return 'CL_TYPE_TEXT_UTF16BE';
  return 'CL_TYPE_BINARY_DATA';
}

// ───────────────────────────── tar ─────────────────────────────

const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);

/** An octal header field as the classic `is_tar` reads it: -1 when blank or malformed. */
function octalField(buf: Uint8Array, at: number, digits: number): number {
  let p = at;
  let left = digits;
  while (isSpace(buf[p]!)) {
    p++;
    if (--left <= 0) return -1;
  }
  let value = 0;
  while (left > 0 && buf[p]! >= 0x30 && buf[p]! <= 0x37) {
    value = value * 8 + (buf[p]! - 0x30);
    p++;
    left--;
  }
  if (left > 0 && buf[p] !== 0 && !isSpace(buf[p]!)) return -1;
  return value;
}

/**
 * 0 = not tar, 1 = old-style tar, 2 = GNU tar (magic `ustar  \0`), decided by the header
 * checksum of the first 512 bytes (ClamAV's `is_tar`).
 */
export function isTar(buf: Uint8Array): 0 | 1 | 2 {
  if (buf.length < 512) return 0;
  const recorded = octalField(buf, 148, 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += buf[i]!;
  for (let i = 148; i < 156; i++) sum -= buf[i]!;
  sum += 0x20 * 8;
  if (sum !== recorded) return 0;
  // strcmp against "ustar  ": the field must hold exactly those 7 bytes and then a NUL.
  const gnu = [0x75, 0x73, 0x74, 0x61, 0x72, 0x20, 0x20, 0x00];
  return gnu.every((b, k) => buf[257 + k] === b) ? 2 : 1;
}

// ───────────────────────────── zip → OOXML ─────────────────────────────

const ZIP_LOCAL_HEADER = 30;
const OOXML_NAME_MAX = 22;
const OOXML_NAMES: readonly [string, number][] = [
  ['xl/', T.OOXML_XL],
  ['ppt/', T.OOXML_PPT],
  ['word/', T.OOXML_WORD],
  ['BinData', T.ZIP],
  ['mimetype', T.ZIP],
  ['Contents', T.ZIP],
  ['docProps/', T.ZIP],
  ['customXml/', T.ZIP],
  ['version.xml', T.ZIP],
  ['settings.xml', T.ZIP],
  ['_.rels/.rels', T.ZIP],
  ['[ContentTypes].xml', T.ZIP],
  ['[Content_Types].xml', T.ZIP],
  ['Preview/PrvText.txt', T.ZIP],
  ['Contents/content.hpf', T.OOXML_HWP],
  ['META-INF/container.xml', T.ZIP],
];
const OOXML_ENTRIES = OOXML_NAMES.map(([name, t]) => [Buffer.from(name, 'latin1'), t] as const);

function indexOf4(buf: Uint8Array, from: number, to: number, sig: readonly number[]): number {
  for (let i = from; i + 4 <= to; i++) {
    if (buf[i] === sig[0] && buf[i + 1] === sig[1] && buf[i + 2] === sig[2] && buf[i + 3] === sig[3]) return i;
  }
  return -1;
}

/**
 * A zip's OOXML subtype from the names of its first local headers, reading the file in windows
 * as ClamAV does: up to 32 searches, stopping after three headers with room for a name. When a
 * header only makes OOXML likely (`[Content_Types].xml`, `docProps/`…), the central directory is
 * searched for a member under `xl/`, `ppt/`, `word/` or named `Contents/content.hpf`
 * (`cli_ooxml_filetype`), the first such member deciding.
 */
function ooxmlType(bytes: Uint8Array, bread: number): number | undefined {
  const LH = [0x50, 0x4b, 0x03, 0x04];
  let win = bytes.subarray(0, bread);
  let winOff = bread; // file offset just past the current window
  let p: number | undefined = 0;
  let headers = 0;
  let likely = false;
  for (let round = 0; round < 32; round++) {
    if (p !== undefined) {
      const at = indexOf4(win, p, win.length, LH);
      if (at < 0) p = undefined;
      else {
        p = at + ZIP_LOCAL_HEADER;
        const left = win.length - p;
        if (left > OOXML_NAME_MAX) {
          for (const [name, t] of OOXML_ENTRIES) {
            let same = true;
            for (let k = 0; k < name.length; k++) if (win[p + k] !== name[k]) { same = false; break; }
            if (same && t !== T.ZIP) return t;
            if (same) likely = true;
          }
          if (++headers > 2) return likely ? ooxmlFromCentral(bytes) : undefined;
        } else p = undefined;
      }
    }
    if (p === undefined) {
      if (bytes.length - winOff > ZIP_LOCAL_HEADER) {
        // Step back so that a header cut by the window edge is seen whole in the next window.
        const start = winOff - (ZIP_LOCAL_HEADER + OOXML_NAME_MAX + 1);
        const size = Math.min(MAGIC_BUFFER_SIZE, bytes.length - start);
        win = bytes.subarray(start, start + size);
        winOff = start + size;
        p = 0;
      } else break;
    }
  }
  return undefined;
}

/** The OOXML prefixes `cli_ooxml_filetype` asks the central directory for, in its order. */
const OOXML_SEARCH: readonly [Buffer, number][] = [['xl/', T.OOXML_XL], ['ppt/', T.OOXML_PPT], ['word/', T.OOXML_WORD], ['Contents/content.hpf', T.OOXML_HWP]].map(([n, t]) => [Buffer.from(n as string, 'latin1'), t as number]);

/** ClamAV's `unzip_search`: the central headers in order until a name starts with one of the prefixes. */
function ooxmlFromCentral(b: Uint8Array): number | undefined {
  let coff = clamCentralOffset(b);
  if (coff === 0) return undefined;
  const u16 = (o: number): number => b[o]! | (b[o + 1]! << 8);
  while (coff + 46 <= b.length && b[coff] === 0x50 && b[coff + 1] === 0x4b && b[coff + 2] === 0x01 && b[coff + 3] === 0x02) {
    const nameLen = u16(coff + 28), extraLen = u16(coff + 30), commentLen = u16(coff + 32);
    const at = coff + 46;
    if (b.length - at <= nameLen) return undefined;
    const name = b.subarray(at, at + Math.min(nameLen, 255));
    let found: number | undefined;
    for (const [prefix, t] of OOXML_SEARCH) {
      // strncmp on the NUL-terminated name: a shorter name never matches a longer prefix.
      if (name.length >= prefix.length && prefix.every((c, k) => name[k] === c)) found = t;
    }
    if (found !== undefined) return found;
    coff = at + nameLen + extraLen + commentLen;
  }
  return undefined;
}

// ───────────────────────────── UTF-16 re-reads for HTML ─────────────────────────────

/** ClamAV's quick UTF-16 squeeze: each byte pair (lo, hi) becomes the byte (hi << 4) + lo. */
function squeezeUtf16(buf: Uint8Array): Uint8Array | undefined {
  if (buf.length < 2) return undefined;
  const n = buf.length >> 1;
  const out = new Uint8Array(n);
  for (let j = 0; j < n; j++) out[j] = ((buf[2 * j + 1]! << 4) + buf[2 * j]!) & 0xff;
  return out;
}

type WideEncoding = 'UTF-16LE' | 'UTF-16BE' | 'UCS-4LE' | 'UCS-4BE';

/** The wide encoding announced by the first four bytes (a BOM or `<`/`<?` in wide form), if any. */
function wideEncoding(b: Uint8Array): WideEncoding | undefined {
  if (b.length < 4) return undefined;
  const [b0, b1, b2, b3] = [b[0]!, b[1]!, b[2]!, b[3]!];
  if (b0 === 0x00) {
    if (b1 === 0x00) {
      if ((b2 === 0xfe && b3 === 0xff) || (b2 === 0x00 && b3 === 0x3c)) return 'UCS-4BE';
      // 2143 order: iconv reads this as big-endian UCS-4 as well.
      if ((b2 === 0xff && b3 === 0xfe) || (b2 === 0x3c && b3 === 0x00)) return 'UCS-4BE';
      return undefined;
    }
    if (b1 === 0x3c && b2 === 0x00) {
      if (b3 === 0x00) return 'UCS-4BE'; // 3412 order, read as big-endian
      if (b3 === 0x3f) return 'UTF-16BE';
    }
    return undefined;
  }
  if (b0 === 0xff && b1 === 0xfe) return b2 === 0 && b3 === 0 ? 'UCS-4LE' : 'UTF-16LE';
  if (b0 === 0xfe && b1 === 0xff) return b2 === 0 && b3 === 0 ? 'UCS-4BE' : 'UTF-16BE';
  if (b0 === 0x3c && b1 === 0x00) {
    if (b2 === 0x00 && b3 === 0x00) return 'UCS-4LE';
    if (b2 === 0x3f && b3 === 0x00) return 'UTF-16LE';
  }
  return undefined;
}

/**
 * Decodes `buf` from a wide encoding to UTF-16BE code units and squeezes each unit (hi, lo) to the
 * byte (hi << 4) + lo, dropping zeros: ClamAV's exact-conversion check for HTML in wide text.
 * Bytes that do not decode are passed through one at a time.
 */
function wideToSqueezed(buf: Uint8Array, enc: WideEncoding): Uint8Array {
  const units: number[] = [];
  const width = enc.startsWith('UTF-16') ? 2 : 4;
  const le = enc.endsWith('LE');
  const aligned = buf.length - (buf.length % 4);
  // Input is converted in a 4-byte-aligned run, then the tail padded with zeros to 4 bytes.
  const tail = new Uint8Array(4);
  tail.set(buf.subarray(aligned));
  const runs = buf.length % 4 ? [buf.subarray(0, aligned), tail] : [buf.subarray(0, aligned)];
  const read = (s: Uint8Array, i: number, w: number): number => {
    if (w === 2) return le ? s[i]! | (s[i + 1]! << 8) : (s[i]! << 8) | s[i + 1]!;
    return le ? (s[i]! | (s[i + 1]! << 8) | (s[i + 2]! << 16)) + s[i + 3]! * 0x1000000 : s[i]! * 0x1000000 + ((s[i + 1]! << 16) | (s[i + 2]! << 8) | s[i + 3]!);
  };
  for (const s of runs) {
    let i = 0;
    while (i < s.length) {
      let cp = -1;
      let used = 0;
      if (i + width <= s.length) {
        const u = read(s, i, width);
        if (width === 2) {
          if (u >= 0xd800 && u < 0xdc00) {
            if (i + 4 <= s.length) {
              const lo = read(s, i + 2, 2);
              if (lo >= 0xdc00 && lo < 0xe000) {
                cp = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                used = 4;
              }
            }
          } else if (u < 0xdc00 || u >= 0xe000) {
            cp = u;
            used = 2;
          }
        } else if (u <= 0x10ffff && (u < 0xd800 || u >= 0xe000)) {
          cp = u;
          used = 4;
        }
      }
      if (cp < 0) {
        units.push(s[i]!);
        i++;
        continue;
      }
      if (cp >= 0x10000) {
        const v = cp - 0x10000;
        units.push(0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
      } else units.push(cp);
      i += used;
    }
  }
  const out: number[] = [];
  for (const u of units) {
    const c = (((u >> 8) << 4) + (u & 0xff)) & 0xff;
    if (c) out.push(c);
  }
  return Uint8Array.from(out);
}

// ───────────────────────────── typing ─────────────────────────────

/**
 * The `CL_TYPE_*` name ClamAV 1.4 gives a file with these bytes at the top level (its
 * `RootFileType`). ClamAV does not type files of 5 bytes or fewer at all (they are skipped as
 * clean); this function still applies the same rules to them.
 */
export function detectFileType(bytes: Uint8Array, table: CompiledFtm = builtinFtm()): ClType {
  return typeName(detectTypeCode(bytes, table)) ?? 'CL_TYPE_BINARY_DATA';
}

function detectTypeCode(bytes: Uint8Array, table: CompiledFtm): number {
  const bread = Math.min(bytes.length, TYPE_BUFFER_SIZE);
  const buf = bytes.subarray(0, bread);

  let ret: number | undefined;
  for (const m of table.magics) {
    if (m.offset + m.magic.length > bread) continue;
    let same = true;
    for (let k = 0; k < m.magic.length; k++) if (buf[m.offset + k] !== m.magic[k]) { same = false; break; }
    if (same) {
      ret = code(m.type);
      break;
    }
  }
  ret ??= code(textType(buf));

  if (ret === T.BINARY_DATA) {
    const tar = isTar(buf);
    if (tar === 1) return T.OLD_TAR;
    if (tar === 2) return T.POSIX_TAR;
  } else if (ret === T.ZIP && bread > 2 * (ZIP_LOCAL_HEADER + 5)) {
    const sub = ooxmlType(bytes, bread);
    if (sub !== undefined) return sub;
  }

  if (ret >= T.TEXT_ASCII && ret <= T.BINARY_DATA) {
    const found = matchTypeCodes(buf, bread, table.signatures, ret);
    if (found >= CL_TYPENO && !SFX_DEFERRED.has(found)) return found;
    const squeezed = squeezeUtf16(buf);
    if (squeezed && matchTypeCodes(squeezed, squeezed.length, table.signatures, T.TEXT_ASCII) === T.HTML) return T.HTML_UTF16;
    const enc = wideEncoding(buf);
    if (enc) {
      const text = wideToSqueezed(buf, enc);
      if (text.length > 0 && matchTypeCodes(text, text.length, table.signatures, T.ANY) === T.HTML) return T.HTML;
    }
  }
  return ret;
}

// ───────────────────────────── targets and passes ─────────────────────────────

/**
 * ClamAV's body-signature targets (`cli_mtargets`): target number → the types it covers.
 * Target 0 covers every type; 8 is unused; 13 (INTERNAL) and 14 (OTHER) are reached only by
 * ClamAV's own extra passes.
 */
export const TARGET_TYPES: Readonly<Record<number, readonly TypeName[]>> = Object.freeze({
  1: ['CL_TYPE_MSEXE'],
  2: ['CL_TYPE_MSOLE2'],
  3: ['CL_TYPE_HTML'],
  4: ['CL_TYPE_MAIL'],
  5: ['CL_TYPE_GRAPHICS', 'CL_TYPE_GIF', 'CL_TYPE_PNG', 'CL_TYPE_JPEG', 'CL_TYPE_TIFF'],
  6: ['CL_TYPE_ELF'],
  7: ['CL_TYPE_TEXT_ASCII'],
  9: ['CL_TYPE_MACHO', 'CL_TYPE_MACHO_UNIBIN'],
  10: ['CL_TYPE_PDF'],
  11: ['CL_TYPE_SWF'],
  12: ['CL_TYPE_JAVA'],
  13: ['CL_TYPE_INTERNAL'],
  14: ['CL_TYPE_OTHER'],
});

function typeTarget(type: string): number | undefined {
  for (const [t, types] of Object.entries(TARGET_TYPES)) if ((types as readonly string[]).includes(type)) return Number(t);
  return undefined;
}

/**
 * The signature targets that apply to a layer of `type`: always 0, plus the target whose type
 * list holds `type` (per `cli_mtargets`). For CL_TYPE_TEXT_ASCII that is [0, 7], but target 7
 * is matched only against the normalised copy: see `scanPasses` for what runs on which bytes.
 */
export function targetOf(type: string): number[] {
  const t = typeTarget(type);
  return t === undefined ? [0] : [0, t];
}

const NORMALISED_TEXT: ReadonlySet<string> = new Set([
  'CL_TYPE_TEXT_ASCII', 'CL_TYPE_TEXT_UTF8', 'CL_TYPE_TEXT_UTF16LE', 'CL_TYPE_TEXT_UTF16BE', 'CL_TYPE_SCRIPT',
]);

/**
 * True when ClamAV also scans a normalised copy of a layer of this type with `textnorm` (the four
 * text types, and CL_TYPE_SCRIPT, which no built-in magic produces). HTML has its own normaliser.
 */
export function isNormalisedText(type: string): boolean {
  return NORMALISED_TEXT.has(type);
}

/** What a pass reads: the layer's bytes, the text normaliser's output, or the HTML normaliser's files. */
export type PassInput = 'raw' | 'normalised-text' | 'html-nocomment' | 'html-notags' | 'html-javascript';

export interface ScanPass {
  input: PassInput;
  /** Targets in the order ClamAV matches them: the type's target first, then 0. */
  targets: number[];
}

const HTML_PASSES: readonly ScanPass[] = [
  { input: 'html-nocomment', targets: [3, 0] },
  { input: 'html-notags', targets: [3, 0] },
  { input: 'html-javascript', targets: [3, 0] },
  { input: 'html-javascript', targets: [7, 0] },
];

/** Options of `scanPasses`. */
export interface ScanPassOptions {
  /** clamscan `--normalize` (default true). When false, HTML is scanned raw and text is not normalised. */
  normalize?: boolean;
  /** Mail parsing (default true). When false, mail found in text gets no target-4 pass. */
  mail?: boolean;
}

/**
 * The body-signature passes ClamAV 1.4 makes over one layer of `type`, in order, with HTML and
 * mail parsing on. `rawFoundType` is the type the raw pass's own type-signature search found in
 * the whole layer, which for a TEXT_ASCII layer turns HTML into the HTML passes instead of the
 * text normaliser, and mail into an extra target-4 pass.
 *
 * - Text: the raw bytes with target 0 only (ClamAV scans TEXT_ASCII raw as CL_TYPE_ANY, and no
 *   target lists the other text types), then the normalised copy with targets 7 and 0. Without
 *   `--allmatch` the normalised pass runs only if the raw pass found nothing.
 * - Binary data and compiled Python: the raw pass, then a second full pass as CL_TYPE_OTHER with
 *   targets 14 and 0, so target-0 signatures are matched (and with `--allmatch` reported) twice.
 * - HTML: no raw pass at all; the HTML normaliser's outputs with targets 3 and 0, its extracted
 *   scripts also with 7 and 0. HTML_UTF16 gets the same after a UTF-16 squeeze, then a raw pass.
 * - CL_TYPE_IGNORED: nothing.
 * Layers over a size limit skip the normalised passes (MaxScriptNormalize, MaxHTMLNormalize).
 */
export function scanPasses(type: string, rawFoundType?: string, opts: ScanPassOptions = {}): ScanPass[] {
  const normalize = opts.normalize ?? true;
  const html = (): ScanPass[] => HTML_PASSES.map((p) => ({ ...p, targets: [...p.targets] }));
  if (type === 'CL_TYPE_IGNORED') return [];
  if (type === 'CL_TYPE_HTML') return normalize ? html() : [{ input: 'raw', targets: [3, 0] }];
  if (type === 'CL_TYPE_HTML_UTF16') return [...(normalize ? html() : []), { input: 'raw', targets: [0] }];
  // CL_TYPE_SCRIPT is normalised before its raw pass, and whatever `--normalize` says.
  if (type === 'CL_TYPE_SCRIPT') return [{ input: 'normalised-text', targets: [7, 0] }, { input: 'raw', targets: [0] }];
  if (isNormalisedText(type)) {
    const passes: ScanPass[] = [{ input: 'raw', targets: [0] }];
    if (type === 'CL_TYPE_TEXT_ASCII' && rawFoundType === 'CL_TYPE_HTML') return normalize ? [...passes, ...html()] : passes;
    if (normalize) passes.push({ input: 'normalised-text', targets: [7, 0] });
    if (type === 'CL_TYPE_TEXT_ASCII' && rawFoundType === 'CL_TYPE_MAIL' && opts.mail !== false) passes.push({ input: 'raw', targets: [4, 0] });
    return passes;
  }
  const t = typeTarget(type);
  const raw: ScanPass = { input: 'raw', targets: t === undefined ? [0] : [t, 0] };
  if (type === 'CL_TYPE_BINARY_DATA' || type === 'CL_TYPE_PYTHON_COMPILED') return [raw, { input: 'raw', targets: [14, 0] }];
  // A GIF whose raw scan finds HTML is scanned through the HTML normaliser as well (ClamAV's scanraw).
  if (type === 'CL_TYPE_GIF' && rawFoundType === 'CL_TYPE_HTML' && normalize) return [raw, ...html()];
  return [raw];
}

// ───────────────────────────── embedded types ─────────────────────────────

/** A type found inside a layer during its raw scan (ClamAV's `ftoffset` list). */
export interface EmbeddedType {
  type: ClType;
  /** Where the match starts in the layer. */
  offset: number;
}

/** ClamAV keeps at most this many embedded types per layer, ZIP entries aside (MAX_EMBEDDED_OBJ). */
export const MAX_EMBEDDED_OBJ = 10;

/**
 * The literal bytes of a part's static run (what a native search can look for), and where they
 * start in the part. Leading 0x00 and 0xff bytes are left out of the searched bytes (the part is
 * verified whole at each candidate anyway): a search led by a byte that fills padding and sparse
 * data would stop at nearly every position of such data.
 */
function staticRun(part: Part): { bytes: Buffer; at: number } {
  const out: number[] = [];
  for (let k = part.prefix; k < part.elems.length; k++) {
    const e = part.elems[k]!;
    if (e.set || e.mask !== 0xff) break;
    out.push(e.value);
  }
  let lead = 0;
  while (lead < out.length - 1 && (out[lead] === 0x00 || out[lead] === 0xff)) lead++;
  return { bytes: Buffer.from(out.slice(lead)), at: part.prefix + lead };
}

interface EmbeddedSig { sig: TypeSignature; runs: { bytes: Buffer; at: number }[] }
const embeddedCache = new WeakMap<CompiledFtm, EmbeddedSig[]>();

function embeddedSigs(table: CompiledFtm): EmbeddedSig[] {
  let sigs = embeddedCache.get(table);
  if (!sigs) {
    sigs = table.signatures
      .filter((s) => (code(s.type) >= T.SFX || s.type === 'CL_TYPE_MSEXE' || s.type === 'CL_TYPE_MBR') && s.type !== 'CL_TYPE_IGNORED' && s.offset.kind !== 'relative')
      .map((sig) => ({ sig, runs: sig.parts.map(staticRun) }))
      .filter((s) => s.runs.every((r) => r.bytes.length >= 1));
    embeddedCache.set(table, sigs);
  }
  return sigs;
}

/**
 * The types ClamAV's raw scan records inside a layer (`ac_addtype` in its Aho-Corasick matcher):
 * self-extractors and installers (every type from CL_TYPE_SFX on), and PE headers inside PE and
 * OLE2 layers, in the order the matcher records them. The matches are found with a native search
 * for each part's literal run, then replayed through ClamAV's bookkeeping: reports in trie order,
 * a multi-part match completing records every first-part offset it tracked (up to 9, so false
 * `MZ` starts count too), at most `MAX_EMBEDDED_OBJ` entries in all except ZIP entries, which
 * stop only past `maxFiles`. Layers ClamAV does not search (archives it opens itself) give none.
 */
export function findEmbeddedTypes(buf: Uint8Array, layerType: string, maxFiles: number, table: CompiledFtm = builtinFtm()): EmbeddedType[] {
  if (EMBEDDED_EXCLUDED.has(layerType)) return [];
  const hay = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const lt = isClType(layerType) ? code(layerType) : T.ANY;
  const peHost = layerType === 'CL_TYPE_MSEXE' || layerType === 'CL_TYPE_ZIP' || layerType === 'CL_TYPE_MSOLE2';
  const reports: Report[] = [];
  for (const { sig, runs } of embeddedSigs(table)) {
    if (sig.type === 'CL_TYPE_MSEXE' && !peHost) continue;
    const rt = code(sig.requiredType);
    if (rt !== T.ANY && rt !== lt) continue;
    // A signature anchored at fixed offsets is looked for there only, and its later parts only
    // within reach of a first part found there (no pass over the whole layer).
    let from = 0, to = buf.length;
    if (sig.offset.kind === 'abs') {
      const first = sig.parts[0]!;
      let lo = -1, hi = -1;
      for (let start = sig.offset.min; start <= sig.offset.max && start < buf.length; start++) {
        if (!partMatchesAt(first, buf, buf.length, start)) continue;
        if (lo < 0) lo = start;
        hi = start;
      }
      if (lo < 0) continue;
      from = lo;
      let reach = hi + first.elems.length;
      for (const p of sig.parts.slice(1)) reach = p.maxDist && Number.isFinite(reach) ? reach + p.maxDist + p.elems.length : Infinity;
      to = Number.isFinite(reach) ? Math.min(buf.length, reach + 1) : buf.length;
    }
    sig.parts.forEach((part, k) => {
      const run = runs[k]!;
      for (let at = hay.indexOf(run.bytes, from + run.at); at !== -1 && at - run.at < to; at = hay.indexOf(run.bytes, at + 1)) {
        const start = at - run.at;
        if (!partMatchesAt(part, buf, buf.length, start)) continue;
        if (k === 0 && sig.offset.kind === 'abs' && (start < sig.offset.min || start > sig.offset.max)) continue;
        reports.push({ at: start + part.prefix + part.depth - 1, depth: part.depth, sig, partNo: k + 1, start, end: start + part.elems.length });
      }
    });
  }
  reports.sort((a, b) => a.at - b.at || b.depth - a.depth || a.partNo - b.partNo || a.sig.order - b.sig.order);

  const out: EmbeddedType[] = [];
  const add = (type: ClType, offset: number): void => {
    if (type === 'CL_TYPE_ZIPSFX') {
      if (maxFiles > 0 && out.length > maxFiles) return;
    } else if (out.length >= MAX_EMBEDDED_OBJ) return;
    out.push({ type, offset });
  };
  const matrices = new Map<TypeSignature, number[][]>();
  for (const r of reports) {
    const sig = r.sig;
    const parts = sig.parts.length;
    const open = out.length < MAX_EMBEDDED_OBJ || sig.type === 'CL_TYPE_ZIPSFX';
    if (parts === 1) {
      if (open) add(sig.type, r.start);
      continue;
    }
    const m = stepMatrix(matrices, r);
    if (m) {
      // Every first-part start still tracked is recorded, then the tracking starts over.
      if (open) for (let j = 1; j <= TRACK + 1 && m[0]![j] !== NONE; j++) add(sig.type, m[parts - 1]![j]!);
      matrices.set(sig, newMatrix(parts));
    }
  }
  // DMG's type signature is anchored at EOF-512 (the only end-relative one): the last offset the raw scan reaches.
  const k = buf.length - 512;
  if (k > 0 && buf[k] === 0x6b && buf[k + 1] === 0x6f && buf[k + 2] === 0x6c && buf[k + 3] === 0x79) add('CL_TYPE_DMG', k);
  return out;
}

/** Layer types whose raw scan does not look for embedded types (ClamAV's `scanraw`: archives it opens itself). */
const EMBEDDED_EXCLUDED: ReadonlySet<string> = new Set(['CL_TYPE_GZ', 'CL_TYPE_CPIO_OLD', 'CL_TYPE_ZIP', 'CL_TYPE_ZIPSFX', 'CL_TYPE_ARJSFX', 'CL_TYPE_RARSFX', 'CL_TYPE_EGGSFX', 'CL_TYPE_CABSFX', 'CL_TYPE_7ZSFX', 'CL_TYPE_OLD_TAR', 'CL_TYPE_POSIX_TAR']);
