rule a { strings: $a = "x" condition: 101% of them }
