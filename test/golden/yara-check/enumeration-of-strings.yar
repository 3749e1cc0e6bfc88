rule a { condition: for any s in ("a", "b") : (s == "a") }
