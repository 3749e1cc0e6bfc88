rule xor_upper { strings: $a = "x" xor(1-300) condition: $a }
rule xor_both { strings: $a = "x" xor(300-256) condition: $a }
rule b64_xor { strings: $a = "x" xor base64 condition: $a }
rule b64w_fullword { strings: $a = "x" base64wide fullword condition: $a }
rule b64_alphabets { strings: $a = "x" base64 base64wide("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") condition: $a }
rule b64_twice { strings: $a = "x" base64 base64 condition: $a }
rule jump_char { strings: $a = { 11 [2-a] 22 } condition: $a }
rule hex_char { strings: $a = { 11 - 22 } condition: $a }
rule hex_paren { strings: $a = { 11 ) 22 } condition: $a }
rule good { condition: true }
