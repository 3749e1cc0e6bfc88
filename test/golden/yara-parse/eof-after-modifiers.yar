// The end of the file after complete modifiers: the declaration is over, line 0.
rule c
{
  strings:
    $a = "abc"
      xor(1)

