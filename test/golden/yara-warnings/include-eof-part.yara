// Included by include-eof.yar; the rule is never closed.
rule inside
{
  condition:
    true
