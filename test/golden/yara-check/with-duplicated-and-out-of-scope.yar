// `with` is YARA 4.3 syntax: yara 4.2.3 refuses it as a syntax error; vigil checks it.
rule a { condition: with x = 1, x = 2 : (x == 2) }
rule b { condition: with y = filesize : (y > 1) and y > 0 }
