rule a { strings: $a = "x" condition: true }
