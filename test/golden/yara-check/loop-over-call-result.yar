import "pe"
rule loop_over_call { condition: for any s in pe.imports("a", 1) : (s == 1) }
