import "pe"
import "math"
rule a { condition: pe.sections }
rule b { condition: math.entropy }
rule c { condition: pe.version_info and true }
