import "math"
rule a { condition: math.foo(1) }
