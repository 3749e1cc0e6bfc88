import "pe"
rule field_of_call { condition: pe.imports("kernel32.dll").x == 1 }
