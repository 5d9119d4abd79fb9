package pyrandom

import (
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"testing"
)

// golden is testdata/golden.json, written by testdata/golden.py from CPython's random module.
type golden struct {
	Python string `json:"python"`
	Seeds  []struct {
		Seed        int64    `json:"seed"`
		Uint32      []uint32 `json:"uint32"`
		Getrandbits []struct {
			K int    `json:"k"`
			V uint64 `json:"v"`
		} `json:"getrandbits"`
		Randbelow []struct {
			N int `json:"n"`
			V int `json:"v"`
		} `json:"randbelow"`
		Random []string `json:"random"`
	} `json:"seeds"`
	Samples []struct {
		Seed    int64  `json:"seed"`
		N       int    `json:"n"`
		K       int    `json:"k"`
		SetSize int    `json:"setsize"`
		Pool    bool   `json:"pool"`
		Indices []int  `json:"indices"`
		Next    uint32 `json:"next"`
	} `json:"samples"`
	Sequential struct {
		Seed    int64    `json:"seed"`
		Cases   [][2]int `json:"cases"`
		Indices [][]int  `json:"indices"`
		Next    uint32   `json:"next"`
	} `json:"sequential"`
	SetSize [][2]int `json:"setsize"`
}

func loadGolden(t *testing.T) *golden {
	t.Helper()
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("testdata/golden.json: %v", err)
	}
	if len(g.Seeds) == 0 || len(g.Samples) == 0 {
		t.Fatal("testdata/golden.json: empty")
	}
	return &g
}

func TestUint32(t *testing.T) {
	for _, s := range loadGolden(t).Seeds {
		r := New(s.Seed)
		for i, want := range s.Uint32 {
			if got := r.Uint32(); got != want {
				t.Fatalf("seed %d: draw %d = %d, Python %d", s.Seed, i, got, want)
			}
		}
	}
}

func TestGetrandbits(t *testing.T) {
	for _, s := range loadGolden(t).Seeds {
		r := New(s.Seed)
		for i, c := range s.Getrandbits {
			if got := r.Getrandbits(c.K); got != c.V {
				t.Fatalf("seed %d: call %d getrandbits(%d) = %d, Python %d", s.Seed, i, c.K, got, c.V)
			}
		}
	}
}

func TestRandbelow(t *testing.T) {
	for _, s := range loadGolden(t).Seeds {
		r := New(s.Seed)
		for i, c := range s.Randbelow {
			if got := r.Randbelow(c.N); got != c.V {
				t.Fatalf("seed %d: call %d _randbelow(%d) = %d, Python %d", s.Seed, i, c.N, got, c.V)
			}
		}
	}
}

func TestFloat64(t *testing.T) {
	for _, s := range loadGolden(t).Seeds {
		r := New(s.Seed)
		for i, c := range s.Random {
			want, err := strconv.ParseFloat(c, 64)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Float64(); got != want {
				t.Fatalf("seed %d: call %d random() = %v, Python %s", s.Seed, i, got, c)
			}
		}
	}
}

func TestSetSize(t *testing.T) {
	for _, c := range loadGolden(t).SetSize {
		if got := SetSize(c[0]); got != c[1] {
			t.Errorf("SetSize(%d) = %d, Python %d", c[0], got, c[1])
		}
	}
}

// TestSample: every (n, k) of the golden file, each from a fresh seed, on both sides of the setsize
// threshold, and the next draw after it (the state sample leaves behind).
func TestSample(t *testing.T) {
	g := loadGolden(t)
	var pool, set int
	for _, c := range g.Samples {
		if c.Pool {
			pool++
		} else {
			set++
		}
		if (c.N <= SetSize(c.K)) != c.Pool {
			t.Errorf("n=%d k=%d: pool algorithm %v, Python %v", c.N, c.K, !c.Pool, c.Pool)
		}
		r := New(c.Seed)
		got, err := r.Sample(c.N, c.K)
		if err != nil {
			t.Fatalf("seed %d n=%d k=%d: %v", c.Seed, c.N, c.K, err)
		}
		if !slices.Equal(got, c.Indices) {
			t.Fatalf("seed %d n=%d k=%d (pool %v): got %v, Python %v", c.Seed, c.N, c.K, c.Pool, head(got), head(c.Indices))
		}
		if next := r.Uint32(); next != c.Next {
			t.Fatalf("seed %d n=%d k=%d: next draw %d, Python %d", c.Seed, c.N, c.K, next, c.Next)
		}
	}
	if pool < 10 || set < 10 {
		t.Fatalf("golden covers %d pool and %d set cases; want both sides of the threshold", pool, set)
	}
}

func TestSampleSequential(t *testing.T) {
	sq := loadGolden(t).Sequential
	r := New(sq.Seed)
	for i, c := range sq.Cases {
		got, err := r.Sample(c[0], c[1])
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, sq.Indices[i]) {
			t.Fatalf("case %d n=%d k=%d: got %v, Python %v", i, c[0], c[1], head(got), head(sq.Indices[i]))
		}
	}
	if next := r.Uint32(); next != sq.Next {
		t.Fatalf("next draw %d, Python %d", next, sq.Next)
	}
}

func TestSampleErrors(t *testing.T) {
	for _, c := range []struct{ n, k int }{{3, 4}, {0, 1}, {5, -1}} {
		if _, err := New(1).Sample(c.n, c.k); err == nil {
			t.Errorf("Sample(%d, %d): no error", c.n, c.k)
		}
	}
}

func TestPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"Randbelow(0)":    func() { New(1).Randbelow(0) },
		"Getrandbits(65)": func() { New(1).Getrandbits(65) },
		"Getrandbits(-1)": func() { New(1).Getrandbits(-1) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func head(s []int) []int {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func BenchmarkSample(b *testing.B) {
	r := New(2512800)
	for b.Loop() {
		r.Sample(11008, 243)
	}
}
