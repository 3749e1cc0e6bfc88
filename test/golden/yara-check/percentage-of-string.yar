rule a { strings: $a = "x" condition: "a"% of them }
