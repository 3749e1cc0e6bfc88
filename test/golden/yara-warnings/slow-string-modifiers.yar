// Modifiers change the atoms yara indexes: wide interleaves zeros, nocase adds case variants,
// xor every key (one of which may turn the text into zeros), base64 three encodings.
rule wide_single { strings: $a = "a" wide condition: $a }
rule wide_pair { strings: $a = "ab" wide condition: $a }
rule ascii_wide_pair { strings: $a = "ab" ascii wide condition: $a }
rule nocase_pair { strings: $a = "zz" nocase condition: $a }
rule xor_pair { strings: $a = "ab" xor condition: $a }
rule xor_range_text { strings: $a = "abcd" xor(1-3) condition: $a }
rule xor_repeated { strings: $a = "qqqq" xor condition: $a }
rule base64_short { strings: $a = "ab" base64 condition: $a }
rule base64_long { strings: $a = "abcdefgh" base64 condition: $a }
rule base64wide_long { strings: $a = "abcdefgh" base64wide condition: $a }
rule regex_nocase_short { strings: $a = /ab/i condition: $a }
rule regex_class_only { strings: $a = /[a-z]+[0-9]/ condition: $a }
rule regex_alternatives { strings: $a = /(abcd|efgh|x)/ condition: $a }
rule private_string { strings: $a = "x" private condition: $a }
rule anonymous_strings { strings: $ = "x" $ = "y" condition: all of them }
