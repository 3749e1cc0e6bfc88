// Warnings come out in source order: each string's, then the condition's, then the rule's.
rule first
{
  strings:
    $a = /abcd.*efgh/
    $b = "x"
  condition:
    $a and $b and "literal"
}
rule second { strings: $c = { 00 00 } condition: $c and entrypoint > 0 }
