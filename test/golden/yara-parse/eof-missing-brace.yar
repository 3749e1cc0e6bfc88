// A rule left open at the end of the file: yara reports at line 0, in the rule.
rule a { condition: true }
rule b
{
  condition:
    true
