import "pe"
rule a { condition: for any i in pe.number_of_sections : (true) }
