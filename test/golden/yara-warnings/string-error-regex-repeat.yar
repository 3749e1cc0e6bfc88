// Regex errors are reported at the string, as "invalid regular expression "$id": …".
rule reversed_interval { strings: $a = /ab{2,1}c/ condition: $a }
rule interval_too_large { strings: $a = /ab{40000}c/ condition: $a }
