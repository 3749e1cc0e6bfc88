rule a { strings: $a = "x" $ = "y" condition: any of ($*) }
