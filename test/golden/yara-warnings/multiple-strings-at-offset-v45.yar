// yara 4.3+ only (dialect 4.5): several different strings at one offset is usually false.
rule two_at_zero { strings: $a = "abcd" $b = "efgh" condition: 2 of ($a, $b) at 0 }
rule all_at_zero { strings: $a = "abcd" $b = "efgh" condition: all of them at 0 }
rule all_of_one_at_zero { strings: $a = "abcd" condition: all of them at 0 }
rule any_at_zero { strings: $a = "abcd" $b = "efgh" condition: any of them at 0 }
