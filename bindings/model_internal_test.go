package bindings

import "testing"

func TestParamSize(t *testing.T) {
	for _, c := range []struct {
		n    uint64
		want string
	}{{999, "999"}, {19_202_304, "19M"}, {209_715_200, "209M"}, {1_176_832_000, "1.2B"}, {6_888_095_744, "6.9B"}} {
		if got := paramSize(c.n); got != c.want {
			t.Errorf("paramSize(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}
