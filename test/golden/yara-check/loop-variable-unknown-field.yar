import "pe"
rule a { condition: for any s in pe.sections : (s.nosuch == 1) }
