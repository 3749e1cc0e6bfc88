// yara 4.3+ only (dialect 4.5): asking for more items than the set holds can never be true.
rule r1 { condition: true }
rule three_of_two { strings: $a = "abcd" $b = "efgh" condition: 3 of ($a, $b) }
rule two_of_one_rule { condition: 2 of (r1) }
rule three_of_two_in_range { strings: $a = "abcd" $b = "efgh" condition: 3 of ($a, $b) in (0..100) }
rule two_of_two { strings: $a = "abcd" $b = "efgh" condition: 2 of ($a, $b) }
