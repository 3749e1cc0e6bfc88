// vigil's regex compiler refuses programs yara still accepts (yara compiles this one).
rule too_large { strings: $a = /x(a{30000}){30}/ condition: $a }
