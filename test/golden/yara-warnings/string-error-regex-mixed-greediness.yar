// yara prints this one without the "invalid regular expression" prefix.
rule mixed { strings: $a = /ab.*?cd.*ef/ condition: $a }
