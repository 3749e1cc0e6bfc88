// More than 12,000 atoms in one rule: yara warns at the rule's closing brace.
rule many_atoms
{
  strings:
    $a0 = { 01 ?? ?2 03 }
    $a1 = { 01 ?? ?2 03 }
    $a2 = { 01 ?? ?2 03 }
  condition:
    any of them
}
rule fewer_atoms
{
  strings:
    $a0 = { 01 ?? ?2 03 }
    $a1 = { 01 ?? ?2 03 }
  condition:
    any of them
}
rule nocase_wide_regexes
{
  strings:
    $a0 = /a.bc/ nocase wide ascii
    $a1 = /a.bc/ nocase wide ascii
    $a2 = /a.bc/ nocase wide ascii
  condition:
    any of them
}
