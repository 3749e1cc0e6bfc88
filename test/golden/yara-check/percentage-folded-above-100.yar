rule a { strings: $a = "x" condition: (50+60)% of them }
