rule a { strings: $a = "x" condition: #a in (1.5..2) > 0 }
