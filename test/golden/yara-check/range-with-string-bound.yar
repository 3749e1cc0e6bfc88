rule a { condition: for any i in ("a"..2) : (true) }
