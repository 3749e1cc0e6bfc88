import "pe"
rule loops
{
  strings:
    $a1 = "one"
    $a2 = "two"
    $b = "three"
  condition:
    for any of ($a*) : ($ at 0) and
    for 2 of them : (# > 1) and
    for all i in (1..3) : (i > 0) and
    for any i in (1, 2, 3) : (@b[i] > 10) and
    for any k, v in pe.version_info : (k == "CompanyName" and v contains "Corp") and
    for all s in pe.sections : (for any j in (0..s.raw_data_size) : (j == 0)) and
    any of ($a1, $a2, $b) in (0..100) and
    #a1 in (0..10) == 1
}
rule sets { condition: any of (loops, set*) }
