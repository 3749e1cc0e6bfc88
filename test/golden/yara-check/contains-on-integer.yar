rule a { condition: 1 contains "a" }
