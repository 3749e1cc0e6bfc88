/**
 * ClamAV's file-type names (`CL_TYPE_*`) and their numeric codes.
 *
 * In: nothing. Out: the names a signature may use wherever ClamAV accepts a file type (`.cdb`
 * ContainerType, `.ldb` Container/Intermediates, `.ftm` type fields), and the code each name has
 * in ClamAV 1.4 (`enum cli_file`).
 *
 * `CL_TYPES` is exactly the name table ClamAV looks names up in (`ftmap` in
 * libclamav/filetypes.c), in its order. Two codes of the enum have no name there and so can never
 * be written in a signature: `CL_TYPE_ERROR` (the "unknown name" answer) and `CL_TYPE_OTHER`
 * (used only for target 14). A name outside this list makes `.cdb` loading fail.
 */

/** Every `CL_TYPE_*` name ClamAV 1.4 recognises in signatures, in `ftmap` order. */
export const CL_TYPES = [
  'CL_TYPE_TEXT_ASCII',
  'CL_TYPE_TEXT_UTF8',
  'CL_TYPE_TEXT_UTF16LE',
  'CL_TYPE_TEXT_UTF16BE',
  'CL_TYPE_BINARY_DATA',
  'CL_TYPE_IGNORED',
  'CL_TYPE_ANY',
  'CL_TYPE_MSEXE',
  'CL_TYPE_ELF',
  'CL_TYPE_MACHO',
  'CL_TYPE_MACHO_UNIBIN',
  'CL_TYPE_POSIX_TAR',
  'CL_TYPE_OLD_TAR',
  'CL_TYPE_CPIO_OLD',
  'CL_TYPE_CPIO_ODC',
  'CL_TYPE_CPIO_NEWC',
  'CL_TYPE_CPIO_CRC',
  'CL_TYPE_GZ',
  'CL_TYPE_ZIP',
  'CL_TYPE_BZ',
  'CL_TYPE_RAR',
  'CL_TYPE_ARJ',
  'CL_TYPE_MSSZDD',
  'CL_TYPE_MSOLE2',
  'CL_TYPE_MSCAB',
  'CL_TYPE_MSCHM',
  'CL_TYPE_SIS',
  'CL_TYPE_SCRENC',
  'CL_TYPE_GRAPHICS',
  'CL_TYPE_GIF',
  'CL_TYPE_PNG',
  'CL_TYPE_JPEG',
  'CL_TYPE_TIFF',
  'CL_TYPE_RIFF',
  'CL_TYPE_BINHEX',
  'CL_TYPE_TNEF',
  'CL_TYPE_CRYPTFF',
  'CL_TYPE_PDF',
  'CL_TYPE_UUENCODED',
  'CL_TYPE_HTML_UTF16',
  'CL_TYPE_SCRIPT',
  'CL_TYPE_RTF',
  'CL_TYPE_HTML',
  'CL_TYPE_MAIL',
  'CL_TYPE_SFX',
  'CL_TYPE_ZIPSFX',
  'CL_TYPE_RARSFX',
  'CL_TYPE_CABSFX',
  'CL_TYPE_ARJSFX',
  'CL_TYPE_NULSFT',
  'CL_TYPE_AUTOIT',
  'CL_TYPE_ISHIELD_MSI',
  'CL_TYPE_7Z',
  'CL_TYPE_7ZSFX',
  'CL_TYPE_SWF',
  'CL_TYPE_ISO9660',
  'CL_TYPE_JAVA',
  'CL_TYPE_DMG',
  'CL_TYPE_MBR',
  'CL_TYPE_GPT',
  'CL_TYPE_APM',
  'CL_TYPE_XAR',
  'CL_TYPE_PART_ANY',
  'CL_TYPE_PART_HFSPLUS',
  'CL_TYPE_XZ',
  'CL_TYPE_OOXML_WORD',
  'CL_TYPE_OOXML_PPT',
  'CL_TYPE_OOXML_XL',
  'CL_TYPE_INTERNAL',
  'CL_TYPE_XDP',
  'CL_TYPE_XML_WORD',
  'CL_TYPE_XML_XL',
  'CL_TYPE_HWP3',
  'CL_TYPE_XML_HWP',
  'CL_TYPE_HWPOLE2',
  'CL_TYPE_OOXML_HWP',
  'CL_TYPE_PS',
  'CL_TYPE_MHTML',
  'CL_TYPE_LNK',
  'CL_TYPE_EGG',
  'CL_TYPE_EGGSFX',
  'CL_TYPE_UDF',
  'CL_TYPE_ALZ',
  'CL_TYPE_ONENOTE',
  'CL_TYPE_PYTHON_COMPILED',
  'CL_TYPE_LHA_LZH',
] as const;

export type ClType = (typeof CL_TYPES)[number];

const NAME_SET: ReadonlySet<string> = new Set<string>(CL_TYPES);

/** True when `name` is one of `CL_TYPES` (exact, case-sensitive, as ClamAV's `cli_ftcode`). */
export function isClType(name: string): name is ClType {
  return NAME_SET.has(name);
}

/**
 * The enum order of `cli_file` after `CL_TYPE_ANY` (0). The first five text types start at
 * CL_TYPENO (500) and every following member counts up by one, so a member's code is
 * 500 + its position here. Codes matter where ClamAV compares types by magnitude (in file-type
 * detection, a bigger code wins), never in signature text.
 */
const ENUM_ORDER = [
  'CL_TYPE_TEXT_ASCII', 'CL_TYPE_TEXT_UTF8', 'CL_TYPE_TEXT_UTF16LE', 'CL_TYPE_TEXT_UTF16BE',
  'CL_TYPE_BINARY_DATA', 'CL_TYPE_ERROR', 'CL_TYPE_MSEXE', 'CL_TYPE_ELF', 'CL_TYPE_MACHO',
  'CL_TYPE_MACHO_UNIBIN', 'CL_TYPE_POSIX_TAR', 'CL_TYPE_OLD_TAR', 'CL_TYPE_CPIO_OLD',
  'CL_TYPE_CPIO_ODC', 'CL_TYPE_CPIO_NEWC', 'CL_TYPE_CPIO_CRC', 'CL_TYPE_GZ', 'CL_TYPE_ZIP',
  'CL_TYPE_BZ', 'CL_TYPE_RAR', 'CL_TYPE_ARJ', 'CL_TYPE_MSSZDD', 'CL_TYPE_MSOLE2', 'CL_TYPE_MSCAB',
  'CL_TYPE_MSCHM', 'CL_TYPE_SIS', 'CL_TYPE_SCRENC', 'CL_TYPE_GRAPHICS', 'CL_TYPE_GIF',
  'CL_TYPE_PNG', 'CL_TYPE_JPEG', 'CL_TYPE_TIFF', 'CL_TYPE_RIFF', 'CL_TYPE_BINHEX', 'CL_TYPE_TNEF',
  'CL_TYPE_CRYPTFF', 'CL_TYPE_PDF', 'CL_TYPE_UUENCODED', 'CL_TYPE_SCRIPT', 'CL_TYPE_HTML_UTF16',
  'CL_TYPE_RTF', 'CL_TYPE_7Z', 'CL_TYPE_SWF', 'CL_TYPE_JAVA', 'CL_TYPE_XAR', 'CL_TYPE_XZ',
  'CL_TYPE_OOXML_WORD', 'CL_TYPE_OOXML_PPT', 'CL_TYPE_OOXML_XL', 'CL_TYPE_INTERNAL',
  'CL_TYPE_HWP3', 'CL_TYPE_OOXML_HWP', 'CL_TYPE_PS', 'CL_TYPE_EGG', 'CL_TYPE_ONENOTE',
  'CL_TYPE_PYTHON_COMPILED', 'CL_TYPE_LHA_LZH', 'CL_TYPE_PART_ANY', 'CL_TYPE_PART_HFSPLUS',
  'CL_TYPE_MBR', 'CL_TYPE_HTML', 'CL_TYPE_MAIL', 'CL_TYPE_SFX', 'CL_TYPE_ZIPSFX',
  'CL_TYPE_RARSFX', 'CL_TYPE_7ZSFX', 'CL_TYPE_CABSFX', 'CL_TYPE_ARJSFX', 'CL_TYPE_EGGSFX',
  'CL_TYPE_NULSFT', 'CL_TYPE_AUTOIT', 'CL_TYPE_ISHIELD_MSI', 'CL_TYPE_ISO9660', 'CL_TYPE_DMG',
  'CL_TYPE_GPT', 'CL_TYPE_APM', 'CL_TYPE_XDP', 'CL_TYPE_XML_WORD', 'CL_TYPE_XML_XL',
  'CL_TYPE_XML_HWP', 'CL_TYPE_HWPOLE2', 'CL_TYPE_MHTML', 'CL_TYPE_LNK', 'CL_TYPE_UDF',
  'CL_TYPE_ALZ', 'CL_TYPE_OTHER', 'CL_TYPE_IGNORED',
] as const;

/** `CL_TYPENO`: the code of the first real file type. */
export const CL_TYPENO = 500;

/** Numeric code of every `cli_file` member, including `CL_TYPE_ERROR` and `CL_TYPE_OTHER`. */
export const CL_TYPE_CODE: Readonly<Record<ClType | 'CL_TYPE_ERROR' | 'CL_TYPE_OTHER', number>> = Object.freeze(
  Object.fromEntries([['CL_TYPE_ANY', 0], ...ENUM_ORDER.map((n, i) => [n, CL_TYPENO + i])]) as Record<
    ClType | 'CL_TYPE_ERROR' | 'CL_TYPE_OTHER',
    number
  >,
);
