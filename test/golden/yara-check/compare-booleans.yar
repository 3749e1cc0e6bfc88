rule b { condition: true }
rule a { condition: b == b }
