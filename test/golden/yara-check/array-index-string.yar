import "pe"
rule a { condition: pe.sections["a"].name == "x" }
