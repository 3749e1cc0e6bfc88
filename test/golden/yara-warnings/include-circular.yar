// A file that includes itself.
include "include-circular.yar"
rule after { condition: true }
