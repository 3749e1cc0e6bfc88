import "math"
rule a { condition: math[0] == 1 }
