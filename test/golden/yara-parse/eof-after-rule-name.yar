// The end of the file right after a rule name: the rule is already named.
rule a { condition: true }
rule c
