// An included file that ends inside a rule: yara reports in the included file, at the line
// of the `include` in the including file.

include "include-eof-part.yara"

rule after { condition: true }
