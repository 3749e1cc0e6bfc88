rule a { strings: $a = "x" condition: any of ($b*) }
