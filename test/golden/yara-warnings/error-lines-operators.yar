// Errors raised by operators, parentheses and loops: yara reports at the end of the operation,
// or one token later when its parser had to look ahead (precedence, identifiers, `$a`).
import "pe"
import "math"
rule o01
{
  strings:
    $a = "abcdef"
  condition:
    $a and for all of them : ( "a" )
}
rule o02
{
  strings:
    $a = "abcdef"
  condition:
    $a and (pe.sections) == 1
}
rule o03
{
  strings:
    $a = "abcdef"
  condition:
    $a and -(pe.sections) == 1
}
rule o04
{
  strings:
    $a = "abcdef"
  condition:
    $a and not foo
}
rule o05
{
  strings:
    $a = "abcdef"
  condition:
    $a and math.entropy(0, filesize) + "a" == 1
}
rule o06
{
  strings:
    $a = "abcdef"
  condition:
    $a and (1 + 2) * "a" == 1
}
rule o07
{
  strings:
    $a = "abcdef"
  condition:
    $a and "a" * (1 + 2) == 1
}
rule o08
{
  strings:
    $a = "abcdef"
  condition:
    $a and 1 << "a" == 1
}
rule o09
{
  strings:
    $a = "abcdef"
  condition:
    $a and $a at (1 + "a")
}
rule o10
{
  strings:
    $a = "abcdef"
  condition:
    $a and #a in (0..filesize) + "a" == 1
}
rule o11
{
  strings:
    $a = "abcdef"
  condition:
    $a and @a[1 + "x"] == 1
}
rule o12
{
  strings:
    $a = "abcdef"
  condition:
    $a and for any i in (1..2) : ( i + "a" == 1 )
}
rule o13
{
  strings:
    $a = "abcdef"
  condition:
    $a and pe.sections[1 + "a"].name == "x"
}
rule o14
{
  strings:
    $a = "abcdef"
  condition:
    $a and pe.nosuch[0] == 1
}
rule o15
{
  strings:
    $a = "abcdef"
  condition:
    $a and any of (zz*)
}
rule o16
{
  strings:
    $a = "abcdef"
  condition:
    $a and uint8(0) + "a" == 1
}
rule o17
{
  strings:
    $a = "abcdef"
  condition:
    $a and "a" == "b" + 1
}
rule o18
{
  strings:
    $a = "abcdef"
  condition:
    $a and pe.sections[0].name contains 1
}
rule o19
{
  strings:
    $a = "abcdef"
  condition:
    $a and filesize matches /a/
}
rule o20
{
  strings:
    $a = "abcdef"
  condition:
    $a and for any i in (1..filesize + "a") : (true)
}
rule o21
{
  strings:
    $a = "abcdef"
  condition:
    $a and ((1 + "a")) == 1
}
rule o22
{
  strings:
    $a = "abcdef"
  condition:
    $a and (("a")) and true
}
rule o23
{
  strings:
    $a = "abcdef"
  condition:
    $a and (foo) and true
}
rule o24
{
  strings:
    $a = "abcdef"
  condition:
    $a and ((foo.bar))
}
rule o25
{
  strings:
    $a = "abcdef"
  condition:
    $a and math.entropy(0, "a") == 1
}
rule o26
{
  strings:
    $a = "abcdef"
  condition:
    $a and pe.number_of_sections \ 0 == 1
}
rule o27
{
  strings:
    $a = "abcdef"
  condition:
    $a and 5 % pe.number_of_sections + "x" == 1
}
rule o28
{
  strings:
    $a = "abcdef"
  condition:
    $a and -"a" * 2 == 1
}
rule o29
{
  strings:
    $a = "abcdef"
  condition:
    $a and ~1.5 * 2 == 1
}
rule o30
{
  strings:
    $a = "abcdef"
  condition:
    $a and 2 * ~1.5 == 1
}
rule o31
{
  strings:
    $a = "abcdef"
  condition:
    $a and 1 + 2 * 1.5 % 1 == 1
}
rule o32
{
  strings:
    $a = "abcdef"
  condition:
    $a and 1.5 ^ 2 == 1
}
rule o33
{
  strings:
    $a = "abcdef"
  condition:
    $a and 1 ^ 2 | 1.5 == 1
}
rule o34
{
  strings:
    $a = "abcdef"
  condition:
    $a and 1 & 2.5 ^ 1 == 1
}
rule o35
{
  strings:
    $a = "abcdef"
  condition:
    $a and (1 & 2.5) == 1
}
rule o36
{
  strings:
    $a = "abcdef"
  condition:
    $a and 1 >> "a" == 1
}
rule o37
{
  strings:
    $a = "abcdef"
  condition:
    $a and !a + "x" == 1
}
rule o38
{
  strings:
    $a = "abcdef"
  condition:
    $a and !a[1] + "x" == 1
}
rule o39
{
  strings:
    $a = "abcdef"
  condition:
    $a and #a + "x" == 1
}
rule o40
{
  strings:
    $a = "abcdef"
  condition:
    $a and 1.5 contains "a"
}
rule o41
{
  strings:
    $a = "abcdef"
  condition:
    $a and $a in (1.5..2)
}
rule o42
{
  strings:
    $a = "abcdef"
  condition:
    $a and for 1.5 i in (1..2) : (true)
}
rule o43
{
  strings:
    $a = "abcdef"
  condition:
    $a and for any i in (1, "b") : (true)
}
rule o44
{
  strings:
    $a = "abcdef"
  condition:
    $a and 150% of ($a, $a*)
}
