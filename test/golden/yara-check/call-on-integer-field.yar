import "pe"
rule a { condition: pe.number_of_sections(1) == 1 }
