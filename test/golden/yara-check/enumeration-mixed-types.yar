rule a { condition: for any i in (1, "a") : (true) }
