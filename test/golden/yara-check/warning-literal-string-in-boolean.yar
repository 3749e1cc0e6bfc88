rule a { condition: "a" and true }
