// A string left open inside `base64(...)`: yara is still in the string declaration and
// reports at the line of its value (then stops reading the file).
rule c
{
  strings:
    $a = "abc"
      base64("abc
  condition:
    $a
}
