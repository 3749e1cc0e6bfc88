// yara 4.5 words the `entrypoint` warning with a lower-case first letter.
rule uses_entrypoint { condition: entrypoint == 0 }
