// yara checks what it reads before a syntax error, and the rules after it.
rule a { condition: foo }
rule b { condition: true and }
rule c { condition: bar }
rule d { condition: baz and }
rule e { condition: b and d }
rule f { strings: $a = "x" condition: $a and $b or }
rule g { condition: for any i in (1..2) : ( i == }
rule h { condition: qux
