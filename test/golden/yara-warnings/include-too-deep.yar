// The chain of include-chain.yara is deeper than yara allows.
include "include-chain.yara"
rule top { condition: true }
