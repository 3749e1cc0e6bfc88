// yara: an include that cannot be read stops the file.
include "include-missing-file.yara"
rule after { condition: true }
