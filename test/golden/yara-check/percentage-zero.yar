rule a { strings: $a = "x" condition: 0% of them }
