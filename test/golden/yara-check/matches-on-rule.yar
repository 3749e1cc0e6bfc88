rule b { condition: true }
rule a { condition: b matches /x/ }
