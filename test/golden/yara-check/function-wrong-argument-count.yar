import "math"
rule a { condition: math.entropy(1,2,3) > 1 }
