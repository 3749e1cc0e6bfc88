// Jumps over 200 bytes split a hex string into chained pieces, each with its own atoms: the
// weakest piece decides.
rule chained_weak_tail { strings: $a = { 01 02 03 04 [300] 05 } condition: $a }
rule chained_strong { strings: $a = { 01 02 03 04 [0-300] 05 06 07 08 } condition: $a }
rule chained_unbounded { strings: $a = { 01 02 03 04 [-] 05 06 07 08 } condition: $a }
rule short_jump_kept { strings: $a = { 01 [2] 02 } condition: $a }
