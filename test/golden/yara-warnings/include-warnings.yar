// Warnings of an included file are reported in that file, where the include stands.
rule before { strings: $c = "z" condition: $c }
include "include-warnings-part.yara"

rule top { strings: $b = "y" condition: $b and entrypoint == 0 }
