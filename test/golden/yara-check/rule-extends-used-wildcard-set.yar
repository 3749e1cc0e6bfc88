rule b1 { condition: true }
rule a { condition: any of (b*) }
rule b2 { condition: true }
