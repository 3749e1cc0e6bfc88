rule arithmetic { condition: 1 + 2 * 3 - 4 \ 2 % 3 == 5 }
rule bitwise { condition: 1 | 2 ^ 3 & 4 << 1 >> 2 == 0 }
rule unary { condition: -~-1 + ~2 == 0 }
rule boolean { condition: true or false and not true or not not false }
rule mixed { condition: not 1 + 1 == 2 and defined filesize or 3 > 2 }
rule parens { condition: (1 + 2) * 3 == 9 and (true or false) and ((1)) < 2 }
rule strings_ops { condition: "ab" startswith "a" and "ab" istartswith "A" and "ab" endswith "b" and "ab" iendswith "B" and "a" matches /A/i }
