rule a { condition: pe.is_pe }
