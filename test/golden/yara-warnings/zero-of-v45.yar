// yara 4.3+ only (dialect 4.5): `0 of` reads better as `none of`.
rule zero_of_them { strings: $a = "abcd" condition: 0 of them }
rule zero_for_of { strings: $a = "abcd" condition: for 0 of ($a) : ($) }
rule none_of_them { strings: $a = "abcd" condition: none of them }
