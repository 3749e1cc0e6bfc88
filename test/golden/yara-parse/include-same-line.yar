include
"other.yar"
rule include { condition: true }
rule a { condition: include }
