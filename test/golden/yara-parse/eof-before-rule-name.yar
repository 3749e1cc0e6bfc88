// The end of the file before a rule name: no rule is named.
rule a { condition: true }

rule
