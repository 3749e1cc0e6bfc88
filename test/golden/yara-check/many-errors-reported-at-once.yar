rule a { strings: $a = "x" condition: $a and #b > 0 and @c[1] > 0 and !d > 1 }
rule c { condition: "x" + 1 > 0 and 1 \ 0 > 1 and q }
