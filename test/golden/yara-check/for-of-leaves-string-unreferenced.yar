rule a { strings: $a="x" $b="y" condition: for any of ($a) : ($) }
