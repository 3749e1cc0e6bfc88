// One error (or warning) per rule, in the constructs whose line yara chooses differently:
// the offending token, the token after it (a lookahead), or the end of the enclosing construct.
import "pe"
import "math"
rule c01
{
  strings:
    $a = "abcdef"
  condition:
    $a and (1 + "x") > 2
}
rule c02
{
  strings:
    $a = "abcdef"
  condition:
    $a and (1 + "x")
}
rule c03
{
  strings:
    $a = "abcdef"
  condition:
    $a and -(pe.number_of_sections) == "a"
}
rule c04
{
  strings:
    $a = "abcdef"
  condition:
    $a and not "x"
}
rule c05
{
  strings:
    $a = "abcdef"
  condition:
    $a and ("x")
}
rule c06
{
  strings:
    $a = "abcdef"
  condition:
    $a and "x" or true
}
rule c07
{
  strings:
    $a = "abcdef"
  condition:
    $a at "x"
}
rule c08
{
  strings:
    $a = "abcdef"
  condition:
    $a at ("x")
}
rule c09
{
  strings:
    $a = "abcdef"
  condition:
    $a at pe.number_of_sections + "x"
}
rule c10
{
  strings:
    $a = "abcdef"
  condition:
    $a in (0.."x")
}
rule c11
{
  strings:
    $a = "abcdef"
  condition:
    $a in ("x"..10)
}
rule c12
{
  strings:
    $a = "abcdef"
  condition:
    #a in (0.."x") > 1
}
rule c13
{
  strings:
    $a = "abcdef"
  condition:
    @a["x"] > 1
}
rule c14
{
  strings:
    $a = "abcdef"
  condition:
    !a["x"] > 1
}
rule c15
{
  strings:
    $a = "abcdef"
  condition:
    @a[1] + "x" > 1
}
rule c16
{
  strings:
    $a = "abcdef"
  condition:
    $a and uint8("x") == 1
}
rule c17
{
  strings:
    $a = "abcdef"
  condition:
    $a and pe.sections["x"].name == "a"
}
rule c18
{
  strings:
    $a = "abcdef"
  condition:
    $a and pe.sections[0] == 1
}
rule c19
{
  strings:
    $a = "abcdef"
  condition:
    $a and pe.number_of_sections()
}
rule c20
{
  strings:
    $a = "abcdef"
  condition:
    $a and pe.number_of_sections.foo
}
rule c21
{
  strings:
    $a = "abcdef"
  condition:
    $a and pe.nosuch
}
rule c22
{
  strings:
    $a = "abcdef"
  condition:
    $a and pe.nosuch == 1
}
rule c23
{
  strings:
    $a = "abcdef"
  condition:
    $a and math.entropy("a") == 1
}
rule c24
{
  strings:
    $a = "abcdef"
  condition:
    $a and math.entropy(1, 2, 3) == 1
}
rule c25
{
  strings:
    $a = "abcdef"
  condition:
    $a and math.entropy
}
rule c26
{
  strings:
    $a = "abcdef"
  condition:
    $a and pe.sections
}
rule c27
{
  strings:
    $a = "abcdef"
  condition:
    $a and pe.sections == 1
}
rule c28
{
  strings:
    $a = "abcdef"
  condition:
    $a and 1 contains "a"
}
rule c29
{
  strings:
    $a = "abcdef"
  condition:
    $a and "a" contains 1
}
rule c30
{
  strings:
    $a = "abcdef"
  condition:
    $a and "a" matches /a/ and 1 matches /b/
}
rule c31
{
  strings:
    $a = "abcdef"
  condition:
    $a and 1.5 | 2 == 1
}
rule c32
{
  strings:
    $a = "abcdef"
  condition:
    $a and 1 | 2.5 == 1
}
rule c33
{
  strings:
    $a = "abcdef"
  condition:
    $a and 2 << 1.5 == 1
}
rule c34
{
  strings:
    $a = "abcdef"
  condition:
    $a and 2 * 1.5 % 2 == 1
}
rule c35
{
  strings:
    $a = "abcdef"
  condition:
    $a and 2 * pe.number_of_sections % 1.5 == 1
}
rule c36
{
  strings:
    $a = "abcdef"
  condition:
    $a and 4 \ 0 == 1
}
rule c37
{
  strings:
    $a = "abcdef"
  condition:
    $a and (4 % 0) == 1
}
rule c38
{
  strings:
    $a = "abcdef"
  condition:
    $a and 9223372036854775807 * 2 == 1
}
rule c39
{
  strings:
    $a = "abcdef"
  condition:
    $a and 9223372036854775807 + 1 == 1
}
rule c40
{
  strings:
    $a = "abcdef"
  condition:
    $a and -9223372036854775807 - 2 == 1
}
rule c41
{
  strings:
    $a = "abcdef"
  condition:
    $a and for any i in (1, "a", 3) : (true)
}
rule c42
{
  strings:
    $a = "abcdef"
  condition:
    $a and for any i in ("a"..2) : (true)
}
rule c43
{
  strings:
    $a = "abcdef"
  condition:
    $a and for any i, j in (1..2) : (true)
}
rule c44
{
  strings:
    $a = "abcdef"
  condition:
    $a and for any i, j in (1, 2) : (true)
}
rule c45
{
  strings:
    $a = "abcdef"
  condition:
    $a and for any i in pe.number_of_sections : (true)
}
rule c46
{
  strings:
    $a = "abcdef"
  condition:
    $a and for any i in pe : (true)
}
rule c47
{
  strings:
    $a = "abcdef"
  condition:
    $a and for any i, i in pe.version_info : (true)
}
rule c48
{
  strings:
    $a = "abcdef"
  condition:
    $a and for any s in pe.sections : (s.nosuch == 1)
}
rule c49
{
  strings:
    $a = "abcdef"
  condition:
    $a and for any s in pe.sections : (s == 1)
}
rule c50
{
  strings:
    $a = "abcdef"
  condition:
    $a and for "a" of them : (true)
}
rule c51
{
  strings:
    $a = "abcdef"
  condition:
    $a and "a" of them
}
rule c52
{
  strings:
    $a = "abcdef"
  condition:
    $a and 1.5 of them
}
rule c53
{
  strings:
    $a = "abcdef"
  condition:
    $a and 0% of them
}
rule c54
{
  strings:
    $a = "abcdef"
  condition:
    $a and 150% of ($a)
}
rule c55
{
  strings:
    $a = "abcdef"
  condition:
    $a and for any of ($b) : (true)
}
rule c56
{
  strings:
    $a = "abcdef"
  condition:
    $a and any of ($a, $b)
}
rule c57
{
  strings:
    $a = "abcdef"
  condition:
    $a and any of ($a, $b*)
}
rule c58
{
  strings:
    $a = "abcdef"
  condition:
    $a and foo
}
rule c59
{
  strings:
    $a = "abcdef"
  condition:
    $a and foo.bar
}
rule c60
{
  strings:
    $a = "abcdef"
  condition:
    $a and foo(1)
}
rule c61
{
  strings:
    $a = "abcdef"
  condition:
    $a and foo[1]
}
rule c62
{
  strings:
    $a = "abcdef"
  condition:
    $a and any of (foo)
}
rule c63
{
  strings:
    $a = "abcdef"
  condition:
    $a and any of (foo*)
}
rule c64
{
  strings:
    $a = "abcdef"
  condition:
    $a and $b at 1
}
rule c65
{
  strings:
    $a = "abcdef"
  condition:
    $a and #b == 1
}
rule c66
{
  strings:
    $a = "abcdef"
  condition:
    $a and @b[1] == 1
}
rule c67
{
  strings:
    $a = "abcdef"
  condition:
    $a and !b == 1
}
rule c68
{
  strings:
    $a = "abcdef"
  condition:
    $a and $
}
rule c69
{
  strings:
    $a = "abcdef"
  condition:
    $a and $ at 1
}
rule c70
{
  strings:
    $a = "abcdef"
  condition:
    $a and entrypoint == 1
}
rule c71
{
  strings:
    $a = "abcdef"
  condition:
    $a and entrypoint
}
rule c72
{
  strings:
    $a = "abcdef"
  condition:
    $a and (filesize + "a") == 1
}
rule c73
{
  strings:
    $a = "abcdef"
  condition:
    $a and filesize + ("a") == 1
}
rule c74
{
  strings:
    $a = "abcdef"
  condition:
    $a and ~"a" == 1
}
rule c75
{
  strings:
    $a = "abcdef"
  condition:
    $a and ~pe.sections == 1
}
rule c76
{
  strings:
    $a = "abcdef"
  condition:
    $a and "a" == 1
}
rule c77
{
  strings:
    $a = "abcdef"
  condition:
    $a and "a" < 1
}
rule c78
{
  strings:
    $a = "abcdef"
  condition:
    $a and 1 < "a" + 1
}
rule c79
{
  strings:
    $a = "abcdef"
  condition:
    $a and "a" icontains 1
}
rule c80
{
  strings:
    $a = "abcdef"
  condition:
    $a and pe.sections[0].name iequals 1
}
rule c81
{
  strings:
    $a = "abcdef"
  condition:
    $a and int16be("a") == 1
}
rule c82
{
  strings:
    $a = "abcdef"
  condition:
    $a and for all i in (1..pe.number_of_sections) : (pe.sections[i].name == 1)
}
rule c83
{
  strings:
    $a = "abcdef"
  condition:
    $a and for all i in (1..2) : (i == "a")
}
rule c84
{
  strings:
    $a = "abcdef"
  condition:
    $a and for all i in (1..2) : ("a")
}
