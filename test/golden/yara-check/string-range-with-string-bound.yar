rule a { strings: $a="x" condition: $a in ("a"..2) }
