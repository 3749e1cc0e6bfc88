import "math"
import "hash"
import "pe"
rule b { condition: true }
rule ok : tag { meta: a = 1 strings: $a = "x" $b = { 01 02 } $c = /ab+/ $ = "anon" condition: $a at 0 and #b in (0..filesize) > 0 and @a[1] == !a[1] and for any of ($b, $c) : ($ at @ and # > 0 and ! > 1) and any of them and b and any of (b*) and math.entropy(0, filesize) > 7.0 and hash.md5(0, 10) == "x" and for all i in (1..3) : (i > 0) and for any s in pe.sections : (s.name == ".text") and for any k, v in pe.version_info : (k == "x" and v contains "y") and 50% of them and 1 \ 2 == 0 and -1 < 0 and uint32(0) == 0x4550 and "a" matches /a/ and pe.sections[0].name iequals ".TEXT" and math.in_range(1.0, 0.0, 2.0) }
