// A hex string left open at the end of the file: `{` is not a hex string, the error is there.
rule c
{
  strings:
    $a = { 41 42

