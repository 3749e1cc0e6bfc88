import "pe"
rule a { condition: for any k in pe.version_info : (true) }
