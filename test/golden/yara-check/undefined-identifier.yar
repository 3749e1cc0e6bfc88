rule a { condition: b }
