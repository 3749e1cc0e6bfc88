rule meta_and_strings
{
  meta:
    good = "yes"
    missing =
    also_good = 1
    float_value = 2.5
  strings:
    $ok = "fine"
    $bad_escape = "a\zb"
    $no_value =
    $odd_hex = { 0 1 }
    $wrong_mod = { 00 11 } nocase
    $fine_too = /re/ wide
  condition:
    all of them
}

rule after_it { condition: true }
