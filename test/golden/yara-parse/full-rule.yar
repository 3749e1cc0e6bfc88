import "pe"
import "math"

/* A rule that uses most of the language. */
global private rule everything : tag1 tag2
{
  meta:
    author = "vigil"
    version = 3
    negative = -0x10
    enabled = true
  strings:
    $text = "MZ\x90\x00\t\"q\"\\" wide ascii nocase fullword
    $xor1 = "key" xor
    $xor2 = "key" xor(0x10)
    $xor3 = "key" xor(1-200) private
    $b64 = "payload" base64 base64wide
    $b64a = "payload" base64("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    $hex = { 4D 5A [2] ( 90 00 | 00 ?? ) ?0 0? ~FF [1-4] 50 45 [-] 00 }
    $re = /https?:\/\/[a-z]+\.example\/\d{2,4}/is wide
    $ = "anonymous"
  condition:
    uint16(0) == 0x5A4D and filesize < 10MB and
    #text > 2 and @text[1] < 0o1000 and !text[1] == 14 and
    $hex at pe.entry_point and $re in (0..filesize \ 2) and
    for any section in pe.sections : (section.name iequals ".TEXT") and
    for all i in (1..#xor1) : (@xor1[i] % 2 == 0) and
    2 of ($xor*) and 50% of them and none of ($b64*) and
    any of ($text, $hex) at 0 and all of them in (0..4KB) and
    for any of ($re, $) : ($ and # >= 1 and @ > 0 and ! < 100) and
    math.entropy(0, filesize) >= 7.5 and
    pe.imports("kernel32.dll", "CreateFileA") and
    "abc" contains "b" and not defined pe.rich_signature.version(1) and
    -1 * (2 + 3) << 1 | 0xff & ~0 ^ 3 != 0
}

rule referrer { condition: everything and 1 of (every*, referrer) }
