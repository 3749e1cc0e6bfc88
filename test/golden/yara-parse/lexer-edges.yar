rule flags_ok { strings: $a = /x/is $b = /y/i $c = /z/s condition: all of them }
rule flags_order { strings: $a = /x/si condition: $a }
rule aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa { condition: true }
rule regex_primary { condition: /abc/ and "a" matches /a\/b[c-d]+/ }
rule ranges_and_dots { condition: for all i in (1..2) : (i >= 1) and 1.5 > 0.25 }
rule numbers { condition: 0x10 + 0o20 + 1KB + 2MB + 010 == 0 }
