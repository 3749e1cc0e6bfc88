import "pe"
import "dotnet"
import "math"
rule pe_import_rva { condition: pe.import_rva("kernel32.dll", "Sleep") > 0 }
rule pe_delayed_imports { condition: pe.delayed_import_details[0].number_of_functions > 0 }
rule dotnet_classes { condition: dotnet.number_of_classes > 0 }
rule math_to_string { condition: math.to_string(10) == "10" }
