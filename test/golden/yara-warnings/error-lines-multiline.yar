// Where yara puts the line of an error when a construct spans lines.
rule a
{
  condition:
    foo
}
rule b {
  condition:
    true and
    foo
    and true
}
rule c {
  condition:
    foo.bar
    and true
}
rule d {
  strings:
    $a = "abcd"
  condition:
    $b
}
rule e {
  strings:
    $a = "abcd"
  condition:
    $b
    and true
}
rule f {
  strings:
    $a = "abcd"
  condition:
    #b
    > 1
}
rule g {
  strings:
    $a = "abcd"
    $b = "efgh"
  condition:
    $a
}
rule h {
  condition:
    1 + "a"
    > 0
}
rule i {
  condition:
    "a"
    and true
}
rule j {
  condition: true
}
rule j
{
  condition: true
}
