rule b { condition: true }
rule a { condition: for any b in (1..2) : (b == 1) }
