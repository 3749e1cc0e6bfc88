rule before { condition: pe.is_pe == 0 }
import "pe"
rule after { condition: pe.is_pe == 0 }
