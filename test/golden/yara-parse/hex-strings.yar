rule hex
{
  strings:
    $plain = { 00 11 22 33 AA bb Cc dD }
    $wild = { 00 ?? ?1 2? 33 }
    $not = { 00 ~11 ~?2 ~3? 44 }
    $jumps = { 00 [1] 11 [2-3] 22 [4-] 33 [-] 44 [ 5 - 6 ] 55 }
    $alts = { 00 ( 11 | 22 33 | ( 44 | 55 [1-2] 66 ) ) 77 }
    $comments = { 00 // to the end of the line
                  11 /* inline */ 22 }
  condition:
    all of them
}
