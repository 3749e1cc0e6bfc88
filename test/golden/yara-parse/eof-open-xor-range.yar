// The end of the file inside `xor(...)`: yara is still in the string declaration and reports
// at the line of its value.
rule c
{
  strings:
    $a = "abc"
      xor(1

