// Each level names the same file through one more "./", so the include stack only grows:
// yara gives up at 16 files.
include "./include-chain.yara"
rule chain { condition: true }
