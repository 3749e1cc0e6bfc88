// Included by include-warnings.yar: its warnings name this file and its lines.

rule included_slow { strings: $a = "x" condition: $a }
