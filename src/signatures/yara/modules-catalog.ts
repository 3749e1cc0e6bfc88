/**
 * What YARA modules export, as data: the ModuleCatalog the semantic checker resolves
 * `module.member…` expressions against.
 *
 * In: nothing. Out: `YARA_4_2_MODULES` (the modules of yara 4.2.3 as Debian builds it: `tests`, `pe`,
 * `elf`, `math`, `time`, `console`, `dotnet`, `cuckoo`, `magic`, `hash`, `macho`, `dex`, with
 * OpenSSL, so `pe.imphash` and `pe.signatures` exist), `YARA_4_5_MODULES` (the same plus `string`,
 * and the members 4.3–4.5 added, such as `pe.import_rva`, `math.to_string`, `dotnet.classes`,
 * `elf.telfhash`; 4.5 renamed `pe.delay_import_details` to `delayed_import_details` and dropped a
 * few `dex` members) and `DEFAULT_MODULES`, the union of both, so that vigil accepts every rule
 * either version accepts (`moduleCatalog(version)` builds any of the three). Each is a tree of
 * structures, arrays, dictionaries, typed values and functions with overloads (argument types →
 * return type).
 *
 * Why written this way: the declarations are long (pe alone has some 380 members) and the two
 * versions differ in a few dozen lines, so each module is one block of a small line language, read
 * once at start-up, with the lines that only one version has marked. Names, types and overloads are
 * those of the `begin_declarations` blocks of each yara module; the constants' values are the
 * engine's business (src/engine/yara/modules/). YARA functions that answer yes/no return integers,
 * so they do here too.
 *
 * The line language, one declaration per line, nesting by two spaces after a two-character marker
 * (`  ` both versions, `- ` yara 4.2 only, `+ ` yara 4.5 only):
 *   `i a b c` integers (`f` floats, `s` strings); `i a[]` an integer array, `i a{}` a dictionary;
 *   `struct x` / `array x` / `dict x` … `end`: a structure, an array or a dictionary of structures;
 *   `fn name ARGS RET`: one overload; ARGS are argument codes (`i` integer, `f` float, `s` string,
 *   `r` regexp, `b` boolean) or `-` for none, RET is `i`, `f` or `s`.
 */

export type ArgCode = 'i' | 'f' | 's' | 'r' | 'b';

export interface Overload {
  args: ArgCode[];
  returns: 'integer' | 'float' | 'string';
}

export type ModuleType =
  | { kind: 'value'; type: 'integer' | 'float' | 'string' }
  | { kind: 'struct'; fields: Record<string, ModuleType> }
  | { kind: 'array'; of: ModuleType }
  | { kind: 'dict'; of: ModuleType }
  | { kind: 'function'; name: string; overloads: Overload[] };

/** Module name → its root structure. */
export type ModuleCatalog = Record<string, { kind: 'struct'; fields: Record<string, ModuleType> }>;

/** The YARA versions whose module declarations this file holds; `union` is both at once. */
export type CatalogVersion = '4.2' | '4.5' | 'union';

const SCALAR: Record<string, 'integer' | 'float' | 'string'> = { i: 'integer', f: 'float', s: 'string' };

/** Module declarations in the line language described above. */
const DECLARATIONS: Record<string, string> = {
  pe: `
  i MACHINE_UNKNOWN MACHINE_AM33 MACHINE_AMD64 MACHINE_ARM MACHINE_ARMNT MACHINE_ARM64 MACHINE_EBC
  i MACHINE_I386 MACHINE_IA64 MACHINE_M32R MACHINE_MIPS16 MACHINE_MIPSFPU MACHINE_MIPSFPU16 MACHINE_POWERPC
  i MACHINE_POWERPCFP MACHINE_R4000 MACHINE_SH3 MACHINE_SH3DSP MACHINE_SH4 MACHINE_SH5 MACHINE_THUMB
  i MACHINE_WCEMIPSV2 MACHINE_TARGET_HOST MACHINE_R3000 MACHINE_R10000 MACHINE_ALPHA MACHINE_SH3E
  i MACHINE_ALPHA64 MACHINE_AXP64 MACHINE_TRICORE MACHINE_CEF MACHINE_CEE SUBSYSTEM_UNKNOWN SUBSYSTEM_NATIVE
  i SUBSYSTEM_WINDOWS_GUI SUBSYSTEM_WINDOWS_CUI SUBSYSTEM_OS2_CUI SUBSYSTEM_POSIX_CUI SUBSYSTEM_NATIVE_WINDOWS
  i SUBSYSTEM_WINDOWS_CE_GUI SUBSYSTEM_EFI_APPLICATION SUBSYSTEM_EFI_BOOT_SERVICE_DRIVER
  i SUBSYSTEM_EFI_RUNTIME_DRIVER SUBSYSTEM_EFI_ROM_IMAGE SUBSYSTEM_XBOX SUBSYSTEM_WINDOWS_BOOT_APPLICATION
  i HIGH_ENTROPY_VA DYNAMIC_BASE FORCE_INTEGRITY NX_COMPAT NO_ISOLATION NO_SEH NO_BIND APPCONTAINER WDM_DRIVER
  i GUARD_CF TERMINAL_SERVER_AWARE RELOCS_STRIPPED EXECUTABLE_IMAGE LINE_NUMS_STRIPPED LOCAL_SYMS_STRIPPED
  i AGGRESIVE_WS_TRIM LARGE_ADDRESS_AWARE BYTES_REVERSED_LO MACHINE_32BIT DEBUG_STRIPPED
  i REMOVABLE_RUN_FROM_SWAP NET_RUN_FROM_SWAP SYSTEM DLL UP_SYSTEM_ONLY BYTES_REVERSED_HI
  i IMAGE_DIRECTORY_ENTRY_EXPORT IMAGE_DIRECTORY_ENTRY_IMPORT IMAGE_DIRECTORY_ENTRY_RESOURCE
  i IMAGE_DIRECTORY_ENTRY_EXCEPTION IMAGE_DIRECTORY_ENTRY_SECURITY IMAGE_DIRECTORY_ENTRY_BASERELOC
  i IMAGE_DIRECTORY_ENTRY_DEBUG IMAGE_DIRECTORY_ENTRY_ARCHITECTURE IMAGE_DIRECTORY_ENTRY_COPYRIGHT
  i IMAGE_DIRECTORY_ENTRY_GLOBALPTR IMAGE_DIRECTORY_ENTRY_TLS IMAGE_DIRECTORY_ENTRY_LOAD_CONFIG
  i IMAGE_DIRECTORY_ENTRY_BOUND_IMPORT IMAGE_DIRECTORY_ENTRY_IAT IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT
  i IMAGE_DIRECTORY_ENTRY_COM_DESCRIPTOR IMAGE_NT_OPTIONAL_HDR32_MAGIC IMAGE_NT_OPTIONAL_HDR64_MAGIC
  i IMAGE_ROM_OPTIONAL_HDR_MAGIC SECTION_NO_PAD SECTION_CNT_CODE SECTION_CNT_INITIALIZED_DATA
  i SECTION_CNT_UNINITIALIZED_DATA SECTION_LNK_OTHER SECTION_LNK_INFO SECTION_LNK_REMOVE SECTION_LNK_COMDAT
  i SECTION_NO_DEFER_SPEC_EXC SECTION_GPREL SECTION_MEM_FARDATA SECTION_MEM_PURGEABLE SECTION_MEM_16BIT
  i SECTION_MEM_LOCKED SECTION_MEM_PRELOAD SECTION_ALIGN_1BYTES SECTION_ALIGN_2BYTES SECTION_ALIGN_4BYTES
  i SECTION_ALIGN_8BYTES SECTION_ALIGN_16BYTES SECTION_ALIGN_32BYTES SECTION_ALIGN_64BYTES
  i SECTION_ALIGN_128BYTES SECTION_ALIGN_256BYTES SECTION_ALIGN_512BYTES SECTION_ALIGN_1024BYTES
  i SECTION_ALIGN_2048BYTES SECTION_ALIGN_4096BYTES SECTION_ALIGN_8192BYTES SECTION_ALIGN_MASK
  i SECTION_LNK_NRELOC_OVFL SECTION_MEM_DISCARDABLE SECTION_MEM_NOT_CACHED SECTION_MEM_NOT_PAGED
  i SECTION_MEM_SHARED SECTION_MEM_EXECUTE SECTION_MEM_READ SECTION_MEM_WRITE SECTION_SCALE_INDEX
  i RESOURCE_TYPE_CURSOR RESOURCE_TYPE_BITMAP RESOURCE_TYPE_ICON RESOURCE_TYPE_MENU RESOURCE_TYPE_DIALOG
  i RESOURCE_TYPE_STRING RESOURCE_TYPE_FONTDIR RESOURCE_TYPE_FONT RESOURCE_TYPE_ACCELERATOR
  i RESOURCE_TYPE_RCDATA RESOURCE_TYPE_MESSAGETABLE RESOURCE_TYPE_GROUP_CURSOR RESOURCE_TYPE_GROUP_ICON
  i RESOURCE_TYPE_VERSION RESOURCE_TYPE_DLGINCLUDE RESOURCE_TYPE_PLUGPLAY RESOURCE_TYPE_VXD
  i RESOURCE_TYPE_ANICURSOR RESOURCE_TYPE_ANIICON RESOURCE_TYPE_HTML RESOURCE_TYPE_MANIFEST
  i IMAGE_DEBUG_TYPE_UNKNOWN IMAGE_DEBUG_TYPE_COFF IMAGE_DEBUG_TYPE_CODEVIEW IMAGE_DEBUG_TYPE_FPO
  i IMAGE_DEBUG_TYPE_MISC IMAGE_DEBUG_TYPE_EXCEPTION IMAGE_DEBUG_TYPE_FIXUP IMAGE_DEBUG_TYPE_OMAP_TO_SRC
  i IMAGE_DEBUG_TYPE_OMAP_FROM_SRC IMAGE_DEBUG_TYPE_BORLAND IMAGE_DEBUG_TYPE_RESERVED10 IMAGE_DEBUG_TYPE_CLSID
  i IMAGE_DEBUG_TYPE_VC_FEATURE IMAGE_DEBUG_TYPE_POGO IMAGE_DEBUG_TYPE_ILTCG IMAGE_DEBUG_TYPE_MPX
  i IMAGE_DEBUG_TYPE_REPRO
  i is_pe machine number_of_sections timestamp pointer_to_symbol_table number_of_symbols
  i size_of_optional_header characteristics entry_point entry_point_raw image_base number_of_rva_and_sizes
  i number_of_version_infos
  s version_info{}
  array version_info_list
    s key value
  end
  i opthdr_magic size_of_code size_of_initialized_data size_of_uninitialized_data base_of_code base_of_data
  i section_alignment file_alignment
  struct linker_version
    i major minor
  end
  struct os_version
    i major minor
  end
  struct image_version
    i major minor
  end
  struct subsystem_version
    i major minor
  end
  i win32_version_value size_of_image size_of_headers checksum
  fn calculate_checksum - i
  i subsystem dll_characteristics size_of_stack_reserve size_of_stack_commit size_of_heap_reserve
  i size_of_heap_commit loader_flags
  array data_directories
    i virtual_address size
  end
  array sections
    s name full_name
    i characteristics virtual_address virtual_size raw_data_offset raw_data_size pointer_to_relocations
    i pointer_to_line_numbers number_of_relocations number_of_line_numbers
  end
  struct overlay
    i offset size
  end
  struct rich_signature
    i offset length key
    s raw_data clear_data
+   s version_data
    fn version i i
    fn version ii i
    fn toolid i i
    fn toolid ii i
  end
  fn imphash - s
  i IMPORT_DELAYED IMPORT_STANDARD IMPORT_ANY
  fn section_index s i
  fn section_index i i
  fn exports s i
  fn exports r i
  fn exports i i
  fn exports_index s i
  fn exports_index i i
  fn exports_index r i
  fn imports ss i
  fn imports si i
  fn imports s i
  fn imports rr i
  fn imports iss i
  fn imports isi i
  fn imports is i
  fn imports irr i
+ fn import_rva ss i
+ fn import_rva si i
+ fn delayed_import_rva ss i
+ fn delayed_import_rva si i
  fn locale i i
  fn language i i
  fn is_dll - i
  fn is_32bit - i
  fn is_64bit - i
  i number_of_imports number_of_imported_functions number_of_delayed_imports
  i number_of_delayed_imported_functions number_of_exports
  s dll_name
  i export_timestamp
  array export_details
    i offset
    s name forward_name
    i ordinal
+   i rva
  end
  array import_details
    s library_name
    i number_of_functions
    array functions
      s name
      i ordinal
+     i rva
    end
  end
- array delay_import_details
-   s library_name
-   i number_of_function
-   array functions
-     s name
-     i ordinal
-   end
- end
+ array delayed_import_details
+   s library_name
+   i number_of_functions
+   array functions
+     s name
+     i ordinal rva
+   end
+ end
  i resource_timestamp
  struct resource_version
    i major minor
  end
  array resources
    i rva offset length type id language
    s type_string name_string language_string
  end
  i number_of_resources
  s pdb_path
  array signatures
    s thumbprint issuer subject
    i version
    s algorithm algorithm_oid serial
    i not_before not_after
+   i verified
+   s digest_alg digest file_digest
+   i number_of_certificates
+   array certificates
+     s thumbprint issuer subject
+     i version
+     s algorithm algorithm_oid serial
+     i not_before not_after
+   end
+   struct signer_info
+     s program_name digest digest_alg
+     i length_of_chain
+     array chain
+       s thumbprint issuer subject
+       i version
+       s algorithm algorithm_oid serial
+       i not_before not_after
+     end
+   end
+   i number_of_countersignatures
+   array countersignatures
+     i verified sign_time
+     s digest_alg digest
+     i length_of_chain
+     array chain
+       s thumbprint issuer subject
+       i version
+       s algorithm algorithm_oid serial
+       i not_before not_after
+     end
+   end
    fn valid_on i i
  end
+ i is_signed
  i number_of_signatures
  fn rva_to_offset i i
`,
  elf: `
  i ET_NONE ET_REL ET_EXEC ET_DYN ET_CORE EM_NONE EM_M32 EM_SPARC EM_386 EM_68K EM_88K EM_860 EM_MIPS
  i EM_MIPS_RS3_LE EM_PPC EM_PPC64 EM_ARM EM_X86_64 EM_AARCH64 SHT_NULL SHT_PROGBITS SHT_SYMTAB SHT_STRTAB
  i SHT_RELA SHT_HASH SHT_DYNAMIC SHT_NOTE SHT_NOBITS SHT_REL SHT_SHLIB SHT_DYNSYM SHF_WRITE SHF_ALLOC
  i SHF_EXECINSTR type machine entry_point number_of_sections sh_offset sh_entry_size number_of_segments
  i ph_offset ph_entry_size
  array sections
    i type flags address
    s name
    i size offset
  end
  i PT_NULL PT_LOAD PT_DYNAMIC PT_INTERP PT_NOTE PT_SHLIB PT_PHDR PT_TLS PT_GNU_EH_FRAME PT_GNU_STACK DT_NULL
  i DT_NEEDED DT_PLTRELSZ DT_PLTGOT DT_HASH DT_STRTAB DT_SYMTAB DT_RELA DT_RELASZ DT_RELAENT DT_STRSZ
  i DT_SYMENT DT_INIT DT_FINI DT_SONAME DT_RPATH DT_SYMBOLIC DT_REL DT_RELSZ DT_RELENT DT_PLTREL DT_DEBUG
  i DT_TEXTREL DT_JMPREL DT_BIND_NOW DT_INIT_ARRAY DT_FINI_ARRAY DT_INIT_ARRAYSZ DT_FINI_ARRAYSZ DT_RUNPATH
  i DT_FLAGS DT_ENCODING STT_NOTYPE STT_OBJECT STT_FUNC STT_SECTION STT_FILE STT_COMMON STT_TLS STB_LOCAL
  i STB_GLOBAL STB_WEAK PF_X PF_W PF_R
  array segments
    i type flags offset virtual_address physical_address file_size memory_size alignment
  end
  i dynamic_section_entries
  array dynamic
    i type val
  end
  i symtab_entries
  array symtab
    s name
    i value size type bind shndx
  end
  i dynsym_entries
  array dynsym
    s name
    i value size type bind shndx
  end
+ fn telfhash - s
+ fn import_md5 - s
`,
  math: `
  f MEAN_BYTES
  fn in_range fff i
  fn deviation iif f
  fn deviation sf f
  fn mean ii f
  fn mean s f
  fn serial_correlation ii f
  fn serial_correlation s f
  fn monte_carlo_pi ii f
  fn monte_carlo_pi s f
  fn entropy ii f
  fn entropy s f
  fn min ii i
  fn max ii i
  fn to_number b i
  fn abs i i
  fn count iii i
  fn count i i
  fn percentage iii f
  fn percentage i f
  fn mode ii i
  fn mode - i
+ fn to_string i s
+ fn to_string ii s
`,
  hash: `
  fn md5 ii s
  fn md5 s s
  fn sha1 ii s
  fn sha1 s s
  fn sha256 ii s
  fn sha256 s s
  fn checksum32 ii i
  fn checksum32 s i
  fn crc32 ii i
  fn crc32 s i
`,
  time: `
  fn now - i
`,
  console: `
  fn log s i
  fn log ss i
  fn log i i
  fn log si i
  fn log f i
  fn log sf i
  fn hex i i
  fn hex si i
`,
  dotnet: `
  i is_dotnet
  s version module_name
  array streams
    s name
    i offset size
  end
  i number_of_streams
  s guids[]
  i number_of_guids
  array resources
    i offset length
    s name
  end
  i number_of_resources
+ array classes
+   s fullname name namespace visibility type
+   i abstract sealed number_of_generic_parameters
+   s generic_parameters[]
+   i number_of_base_types
+   s base_types[]
+   i number_of_methods
+   array methods
+     s generic_parameters[]
+     i number_of_generic_parameters
+     array parameters
+       s name type
+     end
+     i number_of_parameters
+     s return_type
+     i abstract final virtual static
+     s visibility name
+   end
+ end
+ i number_of_classes
  array assembly_refs
    struct version
      i major minor build_number revision_number
    end
    s public_key_or_token name
  end
  i number_of_assembly_refs
  struct assembly
    struct version
      i major minor build_number revision_number
    end
    s name culture
  end
  s modulerefs[]
  i number_of_modulerefs
  s user_strings[]
  i number_of_user_strings
  s typelib
  s constants[]
  i number_of_constants
  i field_offsets[]
  i number_of_field_offsets
`,
  magic: `
  fn mime_type - s
  fn type - s
`,
  cuckoo: `
  struct network
    fn dns_lookup r i
    fn http_get r i
    fn http_post r i
    fn http_request r i
    fn http_user_agent r i
    fn host r i
    fn tcp ri i
    fn udp ri i
  end
  struct registry
    fn key_access r i
  end
  struct filesystem
    fn file_access r i
  end
  struct sync
    fn mutex r i
  end
`,
  macho: `
  i MH_MAGIC MH_CIGAM MH_MAGIC_64 MH_CIGAM_64 FAT_MAGIC FAT_CIGAM FAT_MAGIC_64 FAT_CIGAM_64 CPU_ARCH_ABI64
  i CPU_SUBTYPE_LIB64 CPU_TYPE_MC680X0 CPU_TYPE_X86 CPU_TYPE_I386 CPU_TYPE_X86_64 CPU_TYPE_MIPS
  i CPU_TYPE_MC98000 CPU_TYPE_ARM CPU_TYPE_ARM64 CPU_TYPE_MC88000 CPU_TYPE_SPARC CPU_TYPE_POWERPC
  i CPU_TYPE_POWERPC64 CPU_SUBTYPE_INTEL_MODEL_ALL CPU_SUBTYPE_386 CPU_SUBTYPE_I386_ALL CPU_SUBTYPE_X86_64_ALL
  i CPU_SUBTYPE_486 CPU_SUBTYPE_486SX CPU_SUBTYPE_586 CPU_SUBTYPE_PENT CPU_SUBTYPE_PENTPRO
  i CPU_SUBTYPE_PENTII_M3 CPU_SUBTYPE_PENTII_M5 CPU_SUBTYPE_CELERON CPU_SUBTYPE_CELERON_MOBILE
  i CPU_SUBTYPE_PENTIUM_3 CPU_SUBTYPE_PENTIUM_3_M CPU_SUBTYPE_PENTIUM_3_XEON CPU_SUBTYPE_PENTIUM_M
  i CPU_SUBTYPE_PENTIUM_4 CPU_SUBTYPE_PENTIUM_4_M CPU_SUBTYPE_ITANIUM CPU_SUBTYPE_ITANIUM_2 CPU_SUBTYPE_XEON
  i CPU_SUBTYPE_XEON_MP CPU_SUBTYPE_ARM_ALL CPU_SUBTYPE_ARM_V4T CPU_SUBTYPE_ARM_V6 CPU_SUBTYPE_ARM_V5
  i CPU_SUBTYPE_ARM_V5TEJ CPU_SUBTYPE_ARM_XSCALE CPU_SUBTYPE_ARM_V7 CPU_SUBTYPE_ARM_V7F CPU_SUBTYPE_ARM_V7S
  i CPU_SUBTYPE_ARM_V7K CPU_SUBTYPE_ARM_V6M CPU_SUBTYPE_ARM_V7M CPU_SUBTYPE_ARM_V7EM CPU_SUBTYPE_ARM64_ALL
  i CPU_SUBTYPE_SPARC_ALL CPU_SUBTYPE_POWERPC_ALL CPU_SUBTYPE_MC980000_ALL CPU_SUBTYPE_POWERPC_601
  i CPU_SUBTYPE_MC98601 CPU_SUBTYPE_POWERPC_602 CPU_SUBTYPE_POWERPC_603 CPU_SUBTYPE_POWERPC_603e
  i CPU_SUBTYPE_POWERPC_603ev CPU_SUBTYPE_POWERPC_604 CPU_SUBTYPE_POWERPC_604e CPU_SUBTYPE_POWERPC_620
  i CPU_SUBTYPE_POWERPC_750 CPU_SUBTYPE_POWERPC_7400 CPU_SUBTYPE_POWERPC_7450 CPU_SUBTYPE_POWERPC_970
  i MH_OBJECT MH_EXECUTE MH_FVMLIB MH_CORE MH_PRELOAD MH_DYLIB MH_DYLINKER MH_BUNDLE MH_DYLIB_STUB MH_DSYM
  i MH_KEXT_BUNDLE MH_NOUNDEFS MH_INCRLINK MH_DYLDLINK MH_BINDATLOAD MH_PREBOUND MH_SPLIT_SEGS MH_LAZY_INIT
  i MH_TWOLEVEL MH_FORCE_FLAT MH_NOMULTIDEFS MH_NOFIXPREBINDING MH_PREBINDABLE MH_ALLMODSBOUND
  i MH_SUBSECTIONS_VIA_SYMBOLS MH_CANONICAL MH_WEAK_DEFINES MH_BINDS_TO_WEAK MH_ALLOW_STACK_EXECUTION
  i MH_ROOT_SAFE MH_SETUID_SAFE MH_NO_REEXPORTED_DYLIBS MH_PIE MH_DEAD_STRIPPABLE_DYLIB MH_HAS_TLV_DESCRIPTORS
  i MH_NO_HEAP_EXECUTION MH_APP_EXTENSION_SAFE SG_HIGHVM SG_FVMLIB SG_NORELOC SG_PROTECTED_VERSION_1
  i SECTION_TYPE SECTION_ATTRIBUTES S_REGULAR S_ZEROFILL S_CSTRING_LITERALS S_4BYTE_LITERALS S_8BYTE_LITERALS
  i S_LITERAL_POINTERS S_NON_LAZY_SYMBOL_POINTERS S_LAZY_SYMBOL_POINTERS S_SYMBOL_STUBS
  i S_MOD_INIT_FUNC_POINTERS S_MOD_TERM_FUNC_POINTERS S_COALESCED S_GB_ZEROFILL S_INTERPOSING
  i S_16BYTE_LITERALS S_DTRACE_DOF S_LAZY_DYLIB_SYMBOL_POINTERS S_THREAD_LOCAL_REGULAR S_THREAD_LOCAL_ZEROFILL
  i S_THREAD_LOCAL_VARIABLES S_THREAD_LOCAL_VARIABLE_POINTERS S_THREAD_LOCAL_INIT_FUNCTION_POINTERS
  i S_ATTR_PURE_INSTRUCTIONS S_ATTR_NO_TOC S_ATTR_STRIP_STATIC_SYMS S_ATTR_NO_DEAD_STRIP S_ATTR_LIVE_SUPPORT
  i S_ATTR_SELF_MODIFYING_CODE S_ATTR_DEBUG S_ATTR_SOME_INSTRUCTIONS S_ATTR_EXT_RELOC S_ATTR_LOC_RELOC magic
  i cputype cpusubtype filetype ncmds sizeofcmds flags reserved number_of_segments
  array segments
    s segname
    i vmaddr vmsize fileoff fsize maxprot initprot nsects flags
    array sections
      s sectname segname
      i addr size offset align reloff nreloc flags reserved1 reserved2 reserved3
    end
  end
  i entry_point stack_size fat_magic nfat_arch
  array fat_arch
    i cputype cpusubtype offset size align
  end
  array file
    i magic cputype cpusubtype filetype ncmds sizeofcmds flags reserved number_of_segments
    array segments
      s segname
      i vmaddr vmsize fileoff fsize maxprot initprot nsects flags
      array sections
        s sectname segname
        i addr size offset align reloff nreloc flags reserved1 reserved2 reserved3
      end
    end
    i entry_point stack_size
  end
  fn file_index_for_arch i i
  fn file_index_for_arch ii i
  fn entry_point_for_arch i i
  fn entry_point_for_arch ii i
`,
  dex: `
  s DEX_FILE_MAGIC_035 DEX_FILE_MAGIC_036 DEX_FILE_MAGIC_037 DEX_FILE_MAGIC_038 DEX_FILE_MAGIC_039
  i ENDIAN_CONSTANT REVERSE_ENDIAN_CONSTANT NO_INDEX ACC_PUBLIC ACC_PRIVATE ACC_PROTECTED ACC_STATIC ACC_FINAL
  i ACC_SYNCHRONIZED ACC_VOLATILE ACC_BRIDGE ACC_TRANSIENT ACC_VARARGS ACC_NATIVE ACC_INTERFACE ACC_ABSTRACT
  i ACC_STRICT ACC_SYNTHETIC ACC_ANNOTATION ACC_ENUM ACC_CONSTRUCTOR ACC_DECLARED_SYNCHRONIZED
  i TYPE_HEADER_ITEM TYPE_STRING_ID_ITEM TYPE_TYPE_ID_ITEM TYPE_PROTO_ID_ITEM TYPE_FIELD_ID_ITEM
  i TYPE_METHOD_ID_ITEM TYPE_CLASS_DEF_ITEM TYPE_CALL_SITE_ID_ITEM TYPE_METHOD_HANDLE_ITEM TYPE_MAP_LIST
  i TYPE_TYPE_LIST TYPE_ANNOTATION_SET_REF_LIST TYPE_ANNOTATION_SET_ITEM TYPE_CLASS_DATA_ITEM TYPE_CODE_ITEM
  i TYPE_STRING_DATA_ITEM TYPE_DEBUG_INFO_ITEM TYPE_ANNOTATION_ITEM TYPE_ENCODED_ARRAY_ITEM
  i TYPE_ANNOTATIONS_DIRECTORY_ITEM
  struct header
    s magic
    i checksum
    s signature
    i file_size header_size endian_tag link_size link_offset map_offset string_ids_size string_ids_offset
    i type_ids_size type_ids_offset proto_ids_size proto_ids_offset field_ids_size field_ids_offset
    i method_ids_size method_ids_offset class_defs_size class_defs_offset data_size data_offset
  end
  array string_ids
    i offset size
    s value
  end
  array type_ids
    i descriptor_idx
  end
  array proto_ids
    i shorty_idx return_type_idx parameters_offset
  end
  array field_ids
    i class_idx type_idx name_idx
  end
  array method_ids
    i class_idx proto_idx name_idx
  end
  array class_defs
    i class_idx access_flags super_class_idx interfaces_offset source_file_idx annotations_offset
    i class_data_offset static_values_offset
  end
  array class_data_item
    i static_fields_size instance_fields_size direct_methods_size virtual_methods_size
  end
  struct map_list
    i size
    array map_item
      i type unused size offset
    end
  end
  i number_of_fields
  array field
    s class_name name proto
+   i static instance
    i field_idx_diff access_flags
  end
  fn has_method s i
  fn has_method ss i
  fn has_method r i
  fn has_method rr i
  fn has_class s i
  fn has_class r i
  i number_of_methods
  array method
    s class_name name proto
    i direct virtual method_idx_diff access_flags code_off
    struct code_item
      i registers_size ins_size outs_size tries_size debug_info_off insns_size
      s insns
-     i padding
-     struct tries
-     end
-     array handlers
-     end
    end
  end
`,
  tests: `
  struct constants
    i one two
    s foo empty
  end
  struct undefined
    i i
    f f
  end
  s module_data
  i integer_array[]
  s string_array[]
  i integer_dict{}
  s string_dict{}
  array struct_array
    i i
    s s
  end
  dict struct_dict
    i i
    s s
  end
  dict empty_struct_dict
    i unused
  end
  array empty_struct_array
    array struct_array
      s unused
    end
    dict struct_dict
      s unused
    end
  end
  fn match rs i
  fn isum ii i
  fn isum iii i
  fn fsum ff f
  fn fsum fff f
  fn length s i
  fn empty - s
  fn foobar i s
`,
  string: `
+ fn to_int s i
+ fn to_int si i
+ fn length s i
`,
};

type Struct = { kind: 'struct'; fields: Record<string, ModuleType> };

/**
 * Builds one module's root structure for `version` from its block. The blocks are constants of
 * this file, so a malformed line is a programming error and throws at start-up.
 */
function buildModule(name: string, text: string, version: CatalogVersion): Struct {
  const root: Struct = { kind: 'struct', fields: {} };
  /** Open containers: the structure receiving fields, at its nesting depth. */
  const stack: Struct[] = [root];
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    const marker = raw.slice(0, 2);
    if ((marker === '- ' && version === '4.5') || (marker === '+ ' && version === '4.2')) continue;
    const body = raw.slice(2);
    const depth = (body.length - body.trimStart().length) / 2;
    const words = body.trim().split(/\s+/);
    const head = words[0] as string;
    if (depth !== stack.length - 1 && !(head === 'end' && depth === stack.length - 2)) {
      throw new Error(`modules-catalog: ${name}: bad nesting at "${raw}"`);
    }
    const into = stack[stack.length - 1] as Struct;
    if (head === 'end') {
      stack.pop();
    } else if (head === 'struct' || head === 'array' || head === 'dict') {
      const inner: Struct = { kind: 'struct', fields: {} };
      const field = words[1] as string;
      into.fields[field] = head === 'struct' ? inner : { kind: head, of: inner };
      stack.push(inner);
    } else if (head === 'fn') {
      const [, fname, args, ret] = words as [string, string, string, string];
      const overload: Overload = { args: args === '-' ? [] : (args.split('') as ArgCode[]), returns: SCALAR[ret] as Overload['returns'] };
      const prev = into.fields[fname];
      if (prev?.kind === 'function') {
        if (!prev.overloads.some((o) => o.args.join('') === overload.args.join(''))) prev.overloads.push(overload);
      }
      else into.fields[fname] = { kind: 'function', name: fname, overloads: [overload] };
    } else {
      const type = SCALAR[head];
      if (!type) throw new Error(`modules-catalog: ${name}: unknown declaration "${raw}"`);
      for (const w of words.slice(1)) {
        const leaf: ModuleType = { kind: 'value', type };
        if (w.endsWith('[]')) into.fields[w.slice(0, -2)] = { kind: 'array', of: leaf };
        else if (w.endsWith('{}')) into.fields[w.slice(0, -2)] = { kind: 'dict', of: leaf };
        else into.fields[w] = leaf;
      }
    }
  }
  if (stack.length !== 1) throw new Error(`modules-catalog: ${name}: unclosed structure`);
  return root;
}

/** Modules each version knows (yara refuses `import` of any other name). */
const MODULE_NAMES: Record<CatalogVersion, string[]> = {
  '4.2': ['tests', 'pe', 'elf', 'math', 'time', 'console', 'dotnet', 'cuckoo', 'magic', 'hash', 'macho', 'dex'],
  '4.5': ['tests', 'pe', 'elf', 'math', 'time', 'console', 'string', 'dotnet', 'cuckoo', 'magic', 'hash', 'macho', 'dex'],
  union: ['tests', 'pe', 'elf', 'math', 'time', 'console', 'string', 'dotnet', 'cuckoo', 'magic', 'hash', 'macho', 'dex'],
};

/** The module catalog of a YARA version. */
export function moduleCatalog(version: CatalogVersion): ModuleCatalog {
  const out: ModuleCatalog = {};
  for (const name of MODULE_NAMES[version]) out[name] = buildModule(name, DECLARATIONS[name] as string, version);
  return out;
}

/** The catalog of the modules yara 4.5 knows. */
export const YARA_4_5_MODULES: ModuleCatalog = moduleCatalog('4.5');

/** What vigil compiles against by default: every member of yara 4.2.3 and of yara 4.5. */
export const DEFAULT_MODULES: ModuleCatalog = moduleCatalog('union');

/** The catalog of the modules yara 4.2.3 knows (it has no `string` module). */
export const YARA_4_2_MODULES: ModuleCatalog = moduleCatalog('4.2');
