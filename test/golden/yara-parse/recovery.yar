import "pe"

rule missing_operand
{
  condition:
    true and
}

rule bad_escape
{
  strings:
    $a = "bad \q escape"
  condition:
    $a
}

rule boolean_compare { condition: true == false }

rule good_one { condition: true }

rule chained_compare { condition: 1 < 2 < 3 }

rule unterminated
{
  strings:
    $a = "no end
  condition:
    $a
}

rule missing_condition { strings: $a = "x" }

rule stray_semicolon { condition: true; }

rule : notag { condition: true }

rule last_good { condition: false }
