rule b { condition: true }
rule a { condition: b contains "x" }
