import "pe"

rule read_struct { condition: uint8(pe.sections) == 0 }
rule read_element { condition: uint8(pe.sections[0]) == 0 }
rule read_module { condition: int16be(pe) == 0 }
rule at_struct { strings: $a = "x" condition: $a at pe.sections }
rule range_struct { strings: $a = "x" condition: #a in (pe.sections..1) == 1 }
rule quantifier_struct { strings: $a = "x" condition: pe.sections of them }
rule offset_struct { strings: $a = "x" condition: @a[pe.sections] == 1 }
rule loop_range_struct { condition: for any i in (pe.sections..2) : (true) }
rule defined_literal { condition: defined "a" }
