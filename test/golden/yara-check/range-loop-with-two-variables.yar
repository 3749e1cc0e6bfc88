rule a { condition: for any i, j in (1..2) : (true) }
