// The end of the file where the condition section should start.
rule c
{
  strings:
    $a = "abc"
