// A syntax error inside `xor(...)` or `base64(...)`: yara has not finished the string
// declaration and reports at the line of its value; after complete modifiers, at the token.
rule a { strings: $a = "abc" xor(
  condition: $a }
rule b { strings: $a = "abc" base64(
  condition: $a }
rule c { strings: $a = "abc" xor(1 -
  condition: $a }
rule d { strings: $a = "abc" xor(1) wide
  condition: }
rule e { strings: $a = /abc/ nocase
  wide condition: }
rule f { strings: $a = "abc" xor(1)
  ( condition: $a }
