rule a { strings: $ = "x" condition: $ }
