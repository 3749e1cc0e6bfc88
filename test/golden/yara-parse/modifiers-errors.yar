rule m1 { strings: $a = { 00 11 } wide condition: $a }
rule m2 { strings: $a = /re/ xor condition: $a }
rule m3 { strings: $a = "x" wide wide condition: $a }
rule m4 { strings: $a = "x" nocase xor condition: $a }
rule m5 { strings: $a = "x" base64 nocase condition: $a }
rule m6 { strings: $a = "x" xor(300) condition: $a }
rule m7 { strings: $a = "x" xor(20-10) condition: $a }
rule m8 { strings: $a = "x" base64("short") condition: $a }
rule m9 : t t { strings: $a = "x" $a = "y" condition: $a }
