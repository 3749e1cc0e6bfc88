rule a { condition: not "abc" }
