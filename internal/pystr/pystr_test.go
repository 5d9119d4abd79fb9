package pystr

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// TestPython compares every function with CPython's results (testdata/golden.json, written by
// testdata/golden.py).
func TestPython(t *testing.T) {
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Cases []struct {
			Text, Lower, Capitalize, Strip, Rstrip string
			Split                                  []string
			StartsUpper                            bool `json:"starts_upper"`
		}
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	for _, c := range g.Cases {
		for _, r := range []struct{ name, got, want string }{
			{"lower", Lower(c.Text), c.Lower},
			{"capitalize", Capitalize(c.Text), c.Capitalize},
			{"strip", Strip(c.Text), c.Strip},
			{"rstrip", RStrip(c.Text), c.Rstrip},
		} {
			if r.got != r.want {
				t.Errorf("%q.%s() = %q, Python %q", c.Text, r.name, r.got, r.want)
			}
		}
		if got := Fields(c.Text); !slices.Equal(got, c.Split) && len(got)+len(c.Split) > 0 {
			t.Errorf("%q.split() = %q, Python %q", c.Text, got, c.Split)
		}
		if got := StartsUpper(c.Text); got != c.StartsUpper {
			t.Errorf("%q[0].isupper() = %v, Python %v", c.Text, got, c.StartsUpper)
		}
	}
}
