rule a { condition: true and "abc" }
