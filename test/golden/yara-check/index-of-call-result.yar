import "math"
rule index_of_call { condition: math.entropy(0, filesize)[0] > 1 }
