// A type error found with the end of the file as lookahead: line 0, before the syntax error
// (which yara then does not print).
rule c
{
  condition:
    1 + "a"
