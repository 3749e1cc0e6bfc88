rule a { strings: $a = "x" private condition: true }
