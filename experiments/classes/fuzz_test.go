package classes

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestParseLayers(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []int
		err  bool
	}{
		{"", nil, false}, {"all", nil, false}, {"3", []int{3}, false}, {"0-3,7", []int{0, 1, 2, 3, 7}, false},
		{" 7, 2-3 ,2", []int{2, 3, 7}, false}, {"3-1", nil, true}, {"-1", nil, true}, {"a", nil, true}, {"1,", nil, true},
		{"0-99999999", nil, true},
	} {
		got, err := ParseLayers(c.in)
		if (err != nil) != c.err || !slices.Equal(got, c.want) {
			t.Errorf("ParseLayers(%q) = %v, %v; want %v, error %v", c.in, got, err, c.want, c.err)
		}
	}
}

func FuzzParseLayers(f *testing.F) {
	for _, s := range []string{"", "0-3,7", "1-", "-", "5,5,5", "00-01", "2147483647"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ls, err := ParseLayers(s)
		if err != nil {
			return
		}
		if len(ls) > maxLayers || !slices.IsSorted(ls) {
			t.Fatalf("%q: %d layers, sorted %v", s, len(ls), slices.IsSorted(ls))
		}
		for i, l := range ls {
			if l < 0 || (i > 0 && ls[i-1] == l) {
				t.Fatalf("%q: bad layer list %v", s, ls)
			}
		}
	})
}

// FuzzOpenModelFile feeds arbitrary bytes as a model file: Open must fail with an error naming the
// file or succeed, never crash. Seeds include a real GGUF header cut at several points.
func FuzzOpenModelFile(f *testing.F) {
	f.Add([]byte("GGUF"))
	f.Add([]byte("GGUF\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("not a model"))
	if b, err := os.ReadFile(plantedGGUF(f)); err == nil {
		for _, n := range []int{8, 24, 64, 200, len(b) / 2, len(b) - 1} {
			f.Add(b[:min(n, len(b))])
		}
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "m.gguf")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		src, err := Open(p)
		if err != nil {
			return
		}
		defer src.Close()
		for l := range min(src.Dims().NLayers, 4) {
			src.Layer(l)
		}
	})
}
