rule unterminated_class { strings: $a = /ab[cd/ condition: $a }
