import "pe"
rule a { condition: for any i in pe : (true) }
