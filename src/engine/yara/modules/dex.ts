/**
 * YARA's `dex` module (Android Dalvik executables), in the state yara 4.2.3 leaves it for a file
 * that is not DEX: the constants (`dex.DEX_FILE_MAGIC_035`…, `dex.ENDIAN_CONSTANT`, `dex.ACC_*`,
 * `dex.TYPE_*`) are defined; the header, the id tables, the methods and fields and the functions
 * (`dex.has_method`, `dex.has_class`) are UNDEFINED.
 *
 * In: the scan context (unused until a DEX parser exists). Out: the constants as module data.
 * Declarations come from the module catalog (declare.ts); values are Android's dex-format ones, as
 * yara sets them in its module load (the magic strings without their trailing NUL, as yara stores
 * them).
 */
import { catalogDeclarations, integerConstants } from './declare.js';
import { bytesOf, type YaraModule } from './types.js';

/** The string constants: the DEX magic of each format version. */
export const DEX_STRING_CONSTANTS: Readonly<Record<string, string>> = {
  DEX_FILE_MAGIC_035: 'dex\n035',
  DEX_FILE_MAGIC_036: 'dex\n036',
  DEX_FILE_MAGIC_037: 'dex\n037',
  DEX_FILE_MAGIC_038: 'dex\n038',
  DEX_FILE_MAGIC_039: 'dex\n039',
};

/** The integer constants the module defines whatever the input. */
export const DEX_CONSTANTS: Readonly<Record<string, number>> = {
  ENDIAN_CONSTANT: 0x12345678,
  REVERSE_ENDIAN_CONSTANT: 0x78563412,
  NO_INDEX: 0xffffffff,
  ACC_PUBLIC: 1,
  ACC_PRIVATE: 2,
  ACC_PROTECTED: 4,
  ACC_STATIC: 8,
  ACC_FINAL: 0x10,
  ACC_SYNCHRONIZED: 0x20,
  ACC_VOLATILE: 0x40,
  ACC_BRIDGE: 0x40,
  ACC_TRANSIENT: 0x80,
  ACC_VARARGS: 0x80,
  ACC_NATIVE: 0x100,
  ACC_INTERFACE: 0x200,
  ACC_ABSTRACT: 0x400,
  ACC_STRICT: 0x800,
  ACC_SYNTHETIC: 0x1000,
  ACC_ANNOTATION: 0x2000,
  ACC_ENUM: 0x4000,
  ACC_CONSTRUCTOR: 0x10000,
  ACC_DECLARED_SYNCHRONIZED: 0x20000,
  TYPE_HEADER_ITEM: 0,
  TYPE_STRING_ID_ITEM: 1,
  TYPE_TYPE_ID_ITEM: 2,
  TYPE_PROTO_ID_ITEM: 3,
  TYPE_FIELD_ID_ITEM: 4,
  TYPE_METHOD_ID_ITEM: 5,
  TYPE_CLASS_DEF_ITEM: 6,
  TYPE_CALL_SITE_ID_ITEM: 7,
  TYPE_METHOD_HANDLE_ITEM: 8,
  TYPE_MAP_LIST: 0x1000,
  TYPE_TYPE_LIST: 0x1001,
  TYPE_ANNOTATION_SET_REF_LIST: 0x1002,
  TYPE_ANNOTATION_SET_ITEM: 0x1003,
  TYPE_CLASS_DATA_ITEM: 0x2000,
  TYPE_CODE_ITEM: 0x2001,
  TYPE_STRING_DATA_ITEM: 0x2002,
  TYPE_DEBUG_INFO_ITEM: 0x2003,
  TYPE_ANNOTATION_ITEM: 0x2004,
  TYPE_ENCODED_ARRAY_ITEM: 0x2005,
  TYPE_ANNOTATIONS_DIRECTORY_ITEM: 0x2006,
};

export const dexModule: YaraModule = {
  name: 'dex',
  since: '3.11',
  declarations: catalogDeclarations('dex'),
  load: () => ({
    ...integerConstants(DEX_CONSTANTS),
    ...Object.fromEntries(Object.entries(DEX_STRING_CONSTANTS).map(([k, v]) => [k, bytesOf(v)])),
  }),
};
