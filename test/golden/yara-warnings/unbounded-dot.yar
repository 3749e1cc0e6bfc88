// `.*`, `.+` and `.{n,}` at the top of a regex (not inside an alternative) draw yara's warning.
rule dot_star { strings: $a = /abcd.*efgh/ condition: $a }
rule dot_plus { strings: $a = /abcd.+efgh/ condition: $a }
rule dot_open_range { strings: $a = /abcd.{2,}efgh/ condition: $a }
rule dot_in_group { strings: $a = /abcd(e.*f)gh/ condition: $a }
rule dot_in_alternative { strings: $a = /abcd(e.*f|g)hijk/ condition: $a }
rule dot_bounded { strings: $a = /abcd.{0,30}efgh/ condition: $a }
rule lazy_dot { strings: $a = /abcd.*?efgh/ condition: $a }
rule hex_unbounded_jump { strings: $a = { 01 02 03 04 [-] 05 06 07 08 } condition: $a }
