rule b { condition: true }
rule a { condition: (b | 1) == 1 }
