rule a { condition: 1.0 \ 0 == 1 and a }
