import "pe"
import "elf"
import "dotnet"
import "macho"
import "dex"
import "cuckoo"
import "magic"
import "tests"
rule pe_constants { condition: pe.machine == pe.MACHINE_I386 and pe.characteristics & pe.DLL and pe.is_pe == 0 }
rule pe_delay_imports { condition: pe.delay_import_details[0].number_of_function > 0 and pe.number_of_signatures == 0 }
rule pe_signatures { condition: for any s in pe.signatures : (s.valid_on(1) and s.issuer contains "x") }
rule pe_rich { condition: pe.rich_signature.version(1, 2) == 1 or pe.rich_signature.toolid(3) == 0 }
rule pe_overlay { condition: pe.overlay.size > 0 and pe.linker_version.major == 9 and pe.resources[0].type == pe.RESOURCE_TYPE_ICON }
rule pe_imports { condition: pe.imports(pe.IMPORT_DELAYED, /kernel32/i, /Sleep/) or pe.exports_index(1) == 0 }
rule elf_members { condition: elf.type == elf.ET_EXEC and for any s in elf.symtab : (s.bind == elf.STB_GLOBAL) }
rule dotnet_members { condition: dotnet.assembly.version.major == 4 and dotnet.field_offsets[0] == 0 and dotnet.typelib == "x" }
rule macho_members { condition: macho.file[0].segments[0].sections[0].sectname == "__text" or macho.entry_point_for_arch(macho.CPU_TYPE_X86_64) == 0 }
rule dex_members { condition: dex.header.magic == dex.DEX_FILE_MAGIC_035 and dex.method[0].code_item.padding == 0 and dex.has_method(/x/, /y/) }
rule cuckoo_members { condition: cuckoo.network.tcp(/10\.0\.0\.1/, 80) or cuckoo.sync.mutex(/m/) }
rule magic_members { condition: magic.type() contains "PE32" or magic.mime_type() == "x" }
rule tests_members { condition: tests.struct_dict["foo"].i == 1 and tests.isum(1, 2, 3) == 6 and tests.empty() == "" }
