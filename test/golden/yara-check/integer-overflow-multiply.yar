rule a { condition: 9223372036854775807 * 2 > 0 }
