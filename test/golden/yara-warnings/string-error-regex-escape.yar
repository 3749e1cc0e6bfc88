rule bad_hex_escape
{
  strings:
    $a = /ab\xZZ/
  condition:
    $a
}
