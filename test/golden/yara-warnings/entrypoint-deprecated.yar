// `entrypoint` is deprecated since yara 3; the warning sits on the keyword's line.
rule uses_entrypoint
{
  condition:
    entrypoint == 0x1000 or
    entrypoint
      > 10
}
