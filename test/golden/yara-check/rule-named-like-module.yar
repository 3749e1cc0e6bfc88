import "pe"
rule pe { condition: true }
