rule a { condition: "a" + 1 == 2 }
