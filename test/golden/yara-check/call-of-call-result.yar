import "pe"
rule call_of_call { condition: pe.imphash()() == "x" }
