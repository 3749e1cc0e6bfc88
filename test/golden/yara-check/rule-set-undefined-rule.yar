rule b { condition: true }
rule a { condition: any of (b, c) }
