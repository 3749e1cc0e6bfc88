rule overflow { condition: 9223372036854775808 > 0 }
rule max_int { condition: 9223372036854775807 > 0 }
rule regex_newline { condition: "a" matches /abc
}
rule empty_regex { condition: "a" matches // comment, not a regex
}
rule unicode { strings: $a = "héllo ✓" condition: $a }
rule unterminated_comment { condition: true } /* never closed
