rule r
{
  strings:
    $a = /\Rfoo\d\w\.\//
  condition:
    $a and "x" matches /\Ky/
}
