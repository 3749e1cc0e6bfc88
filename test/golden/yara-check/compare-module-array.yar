import "pe"
rule a { condition: pe.sections > 1 }
