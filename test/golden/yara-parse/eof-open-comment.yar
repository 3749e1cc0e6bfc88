// A comment left open at the end of the file (yara 4.2.3 says nothing about it).
rule c
{
  condition:
    true /* no end

