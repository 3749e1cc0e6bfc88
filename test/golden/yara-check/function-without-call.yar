import "time"
rule a { condition: time.now == 1 }
