rule open_group { strings: $a = /(abc/ condition: $a }
rule close_group { strings: $a = /abc)/ condition: $a }
rule double_star { strings: $a = /ab**/ condition: $a }
rule alternative_star { strings: $a = /a|*b/ condition: $a }
