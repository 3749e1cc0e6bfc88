rule a { condition: b }
rule b { condition: true }
