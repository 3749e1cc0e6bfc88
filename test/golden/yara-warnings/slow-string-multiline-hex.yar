// yara reports a string's warnings at the line where its value ends.
rule multiline_hex
{
  strings:
    $a = {
      00 00
      00 00
    }
    $b = { 41 42
           43 44 }
  condition:
    $a and $b
}
