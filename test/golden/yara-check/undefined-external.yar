rule a { condition: ext_var == 1 }
