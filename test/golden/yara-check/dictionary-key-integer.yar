import "pe"
rule a { condition: pe.version_info[1] == "x" }
