package classes

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// maxLayers bounds a parsed layer range so that "0-999999999" cannot allocate gigabytes.
const maxLayers = 1 << 16

// ParseLayers parses a layer list such as "0-3,7,31" (ascending, duplicates removed). "" and "all"
// mean every layer (nil); ranges are inclusive.
func ParseLayers(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "all" {
		return nil, nil
	}
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil || a < 0 {
			return nil, fmt.Errorf("bad layer %q in %q (want e.g. 0-3,7)", part, s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil || b < a {
				return nil, fmt.Errorf("bad layer range %q in %q", part, s)
			}
		}
		if b >= maxLayers {
			return nil, fmt.Errorf("layer %d out of range", b)
		}
		for l := a; l <= b; l++ {
			out = append(out, l)
		}
		if len(out) > maxLayers {
			return nil, fmt.Errorf("too many layers in %q", s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
