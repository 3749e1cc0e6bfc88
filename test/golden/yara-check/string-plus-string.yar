rule a { condition: "a" + "b" == 1 }
