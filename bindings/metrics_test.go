package bindings_test

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"sort"
	"testing"

	"github.com/wcos-dev/wcos/bindings"
)

// exactMetrics is the float64 libm reference for one row.
func exactMetrics(x []float32, t int) (h, loss float64, rank int32) {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, float64(v))
	}
	var z float64
	for _, v := range x {
		z += math.Exp(float64(v) - mx)
	}
	lz := math.Log(z) + mx
	for _, v := range x {
		p := math.Exp(float64(v) - lz)
		h -= p * math.Log(p+1e-8)
		if v > x[t] {
			rank++
		}
	}
	return h, lz - float64(x[t]), rank
}

// TestTokenMetricsPolynomials checks the vectorised exp/log against float64 libm on logits of many
// shapes: peaked, flat, huge range, ties.
func TestTokenMetricsPolynomials(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	const nv = 50304
	cases := map[string]func(i int) float32{
		"gaussian": func(int) float32 { return float32(rng.NormFloat64() * 3) },
		"flat":     func(int) float32 { return 1.5 },
		"peaked": func(i int) float32 {
			if i == 7 {
				return 60
			}
			return float32(rng.NormFloat64())
		},
		"wide":     func(int) float32 { return float32(rng.Float64()*200 - 100) },
		"ties":     func(i int) float32 { return float32(i % 5) },
		"negative": func(int) float32 { return float32(-1000 + rng.NormFloat64()) },
	}
	for name, gen := range cases {
		x := make([]float32, nv)
		for i := range x {
			x[i] = gen(i)
		}
		tgt := int32(rng.Intn(nv))
		got := bindings.TokenMetricsOf(x, nv, []int32{tgt})
		h, l, r := exactMetrics(x, int(tgt))
		if math.Abs(got.Entropy[0]-h) > 1e-5 || math.Abs(got.Loss[0]-l) > 1e-5 || got.Rank[0] != r {
			t.Errorf("%s: entropy %.8g loss %.8g rank %d, want %.8g %.8g %d", name, got.Entropy[0], got.Loss[0], got.Rank[0], h, l, r)
		}
	}
}

func BenchmarkTokenMetrics(b *testing.B) {
	for _, rows := range []int{64, 1024} {
		const nv = 50304
		x := make([]float32, rows*nv)
		rng := rand.New(rand.NewSource(1))
		for i := range x {
			x[i] = float32(rng.NormFloat64() * 3)
		}
		tg := make([]int32, rows)
		b.Run(fmtInt(rows), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				bindings.TokenMetricsOf(x, nv, tg)
			}
			b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

func fmtInt(n int) string { return fmt.Sprintf("rows=%d", n) }

// TestTopKRows compares the C top-k with sorting, on random rows with many ties and some NaNs, for k
// below, at and above the row length.
func TestTopKRows(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for trial := range 200 {
		rows, n := 1+r.Intn(4), 1+r.Intn(60)
		x := make([]float32, rows*n)
		for i := range x {
			switch v := r.Intn(12); {
			case v == 0:
				x[i] = float32(math.NaN())
			case v == 1:
				x[i] = float32(math.Inf(1 - 2*r.Intn(2)))
			default:
				x[i] = float32(v - 6) // few distinct values: ties
			}
		}
		k := 1 + r.Intn(n+5)
		got, err := bindings.TopKRows(x, rows, n, k)
		if err != nil {
			t.Fatal(err)
		}
		for row := range rows {
			xr := x[row*n : (row+1)*n]
			want := make([]int32, n)
			for i := range want {
				want[i] = int32(i)
			}
			sort.SliceStable(want, func(a, b int) bool {
				va, vb := xr[want[a]], xr[want[b]]
				if math.IsNaN(float64(va)) || math.IsNaN(float64(vb)) {
					return !math.IsNaN(float64(va)) && math.IsNaN(float64(vb))
				}
				return va > vb
			})
			want = want[:min(k, n)]
			if !slices.Equal(got[row], want) {
				t.Fatalf("trial %d row %d (k %d): %v, want %v (values %v)", trial, row, k, got[row], want, xr)
			}
		}
	}
	if _, err := bindings.TopKRows(make([]float32, 3), 2, 2, 1); err == nil {
		t.Error("a short x was accepted")
	}
}

// TestMatMulKept: the product with a kept right operand equals MatMulNT bit for bit on the CPU, for
// fewer rows than it was made for and again after a larger call; asking for a GPU where none is loaded
// keeps the operand on the CPU.
func TestMatMulKept(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for _, c := range []struct{ n, k, max int }{{50304, 64, 9}, {300, 257, 33}, {1, 1, 1}} {
		b := make([]float32, c.n*c.k)
		for i := range b {
			b[i] = float32(r.NormFloat64())
		}
		for _, gpu := range []bool{false, true} {
			if gpu && bindings.HasGPU() {
				continue // TestGPUMatMul
			}
			mm, err := bindings.NewMatMul(b, c.n, c.k, c.max, gpu, 2)
			if err != nil {
				t.Fatal(err)
			}
			if d := mm.Device(); d != "CPU" {
				t.Errorf("n %d k %d gpu %v: device %q, want CPU", c.n, c.k, gpu, d)
			}
			for _, m := range []int{c.max, 1, (c.max + 1) / 2} {
				a := make([]float32, m*c.k)
				for i := range a {
					a[i] = float32(r.NormFloat64())
				}
				got, err := mm.Apply(a, m, nil)
				if err != nil {
					t.Fatal(err)
				}
				want, err := bindings.MatMulNT(a, m, b, c.n, c.k, nil, 2)
				if err != nil {
					t.Fatal(err)
				}
				// The graph always computes max rows, and ggml's CPU kernels for one row (a vector
				// product) and for several sum in different orders: equal only for the same shape.
				worst := 0.0
				for i := range got {
					worst = max(worst, math.Abs(float64(got[i]-want[i]))/math.Sqrt(float64(c.k)))
				}
				if (m == c.max || m > 1) && !slices.Equal(got, want) || worst > 1e-6 {
					t.Errorf("n %d k %d rows %d of %d: differs from MatMulNT by %.3g·√k", c.n, c.k, m, c.max, worst)
				}
			}
			if _, err := mm.Apply(make([]float32, (c.max+1)*c.k), c.max+1, nil); err == nil {
				t.Errorf("n %d k %d: %d rows accepted by a product for %d", c.n, c.k, c.max+1, c.max)
			}
			mm.Close()
			mm.Close()
		}
	}
	if _, err := bindings.NewMatMul(make([]float32, 3), 2, 2, 1, false, 1); err == nil {
		t.Error("a short b was accepted")
	}
}
