package neuronsets

import (
	"strings"
	"testing"
)

// FuzzParseSize: --n-neurons either parses to a size that prints back to itself, or is refused in one
// line; FuzzParseClass likewise for class names.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"", "None", "24", "0.5", "1.0", "1", "1e-3", "strengthening", "conditional_weakening", "CW", "0", "-1", "2.5", "nan", "inf", "٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sz, err := ParseSize(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("ParseSize(%q): error not one line: %q", s, err)
			}
			return
		}
		switch sz.Kind {
		case CountSize:
			if sz.Count < 1 {
				t.Fatalf("ParseSize(%q) = count %d", s, sz.Count)
			}
		case FractionSize:
			if !(sz.Fraction > 0 && sz.Fraction <= 1) {
				t.Fatalf("ParseSize(%q) = fraction %g", s, sz.Fraction)
			}
		}
		back, err := ParseSize(sz.String())
		if err != nil || back != sz {
			t.Fatalf("ParseSize(%q) = %+v prints as %q, which parses to %+v, %v", s, sz, sz.String(), back, err)
		}
	})
}

func FuzzParseClass(f *testing.F) {
	for _, s := range []string{"weakening", "conditional weakening", "conditional_weakening", "Conditional-Weakening", "CW", "w", "", "orthogonal output"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseClass(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("ParseClass(%q): error not one line: %q", s, err)
			}
			return
		}
		if back, err := ParseClass(c.String()); err != nil || back != c {
			t.Fatalf("ParseClass(%q) = %v, which does not parse back: %v, %v", s, c, back, err)
		}
	})
}
