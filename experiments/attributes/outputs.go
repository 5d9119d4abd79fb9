package attributes

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"image/color"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot/vg"

	"github.com/wcos-dev/wcos/internal/atomicfile"
	"github.com/wcos-dev/wcos/internal/quantile"
	"github.com/wcos-dev/wcos/internal/table"
	"github.com/wcos-dev/wcos/plots"
)

// LayerRate is one row of rates_by_layer.csv: the mean attributes rate of a set at a layer over the
// facts with rate > -1, with a 95 % bootstrap confidence interval (BootstrapCI).
type LayerRate struct {
	Set        string
	Layer      string // "emb" or the layer index
	N          int
	Mean, Std  float64
	Low, High  float64
	ExcludedN  int // records with rate -1
	RateValues []float64
}

// Bootstrap settings: seaborn lineplot's default error band (errorbar=("ci", 95), n_boot=1000,
// percentile interval) with a fixed seed, so that reruns write identical files.
const (
	BootstrapN    = 1000
	BootstrapSeed = 2512800
)

// RatesByLayer aggregates the records of each set (in order) per layer 0..nLayer-1, then "emb".
func RatesByLayer(rs []Record, sets []string, nLayer int) []LayerRate {
	type key struct{ set, layer string }
	vals, excl := map[key][]float64{}, map[key]int{}
	for _, r := range rs {
		k := key{r.Set, r.Layer}
		if r.Rate < 0 {
			excl[k]++
			continue
		}
		vals[k] = append(vals[k], r.Rate)
	}
	var out []LayerRate
	for _, s := range sets {
		layers := make([]string, 0, nLayer+1)
		for l := 0; l < nLayer; l++ {
			layers = append(layers, strconv.Itoa(l))
		}
		layers = append(layers, "emb")
		for li, l := range layers {
			k := key{s, l}
			v := vals[k]
			if len(v) == 0 && excl[k] == 0 {
				continue // no record (emb of an ablated set)
			}
			lr := LayerRate{Set: s, Layer: l, N: len(v), ExcludedN: excl[k], RateValues: v}
			lr.Mean, lr.Std = meanStd(v)
			lr.Low, lr.High = BootstrapCI(v, uint64(li)) // same stream for every set: equal rates, equal CIs
			out = append(out, lr)
		}
	}
	return out
}

func meanStd(v []float64) (mean, std float64) {
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, math.NaN()
	}
	for _, x := range v {
		std += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(std / float64(len(v)-1))
}

// BootstrapCI is the 95 % percentile bootstrap interval of the mean of v (BootstrapN resamples, PCG
// seeded with BootstrapSeed and stream); NaN for no values, the value itself for one.
func BootstrapCI(v []float64, stream uint64) (lo, hi float64) {
	switch len(v) {
	case 0:
		return math.NaN(), math.NaN()
	case 1:
		return v[0], v[0]
	}
	rng := rand.New(rand.NewPCG(BootstrapSeed, stream))
	means := make([]float64, BootstrapN)
	for b := range means {
		var s float64
		for range v {
			s += v[rng.IntN(len(v))]
		}
		means[b] = s / float64(len(v))
	}
	slices.Sort(means)
	return quantile.Sorted(means, 0.025), quantile.Sorted(means, 0.975)
}

func jsonList(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// RecordColumns are records.csv's columns (lists are JSON arrays).
var RecordColumns = []string{"fact_id", "subject", "relation", "prompt", "subject_tokens", "position", "layer", "set",
	"intervention", "top_k", "top_k_clean", "num_clean", "rate"}

// Set1 colours of the reference's palette (seaborn Set1[2:5]): clean, set, baseline.
var setColors = []color.Color{
	color.NRGBA{0x4d, 0xaf, 0x4a, 0xff},
	color.NRGBA{0x98, 0x4e, 0xa3, 0xff},
	color.NRGBA{0xff, 0x7f, 0x00, 0xff},
}

func writeOutputs(dir string, res *Result, sets []string, intervention string, nLayer int) error {
	if err := table.Parquet(filepath.Join(dir, "records.parquet"), slices.Values(res.Records)); err != nil {
		return err
	}
	err := table.Create(filepath.Join(dir, "records.csv"), func(w *bufio.Writer) error {
		c := csv.NewWriter(w)
		c.Write(RecordColumns)
		for _, r := range res.Records {
			c.Write([]string{strconv.Itoa(int(r.FactID)), r.Subject, r.Relation, r.Prompt, jsonList(r.SubjectTokens),
				strconv.Itoa(int(r.Position)), r.Layer, r.Set, r.Intervention, jsonList(r.TopK), jsonList(r.TopKClean),
				strconv.Itoa(int(r.NumClean)), ftoa(r.Rate)})
		}
		c.Flush()
		return c.Error()
	})
	if err != nil {
		return err
	}
	err = table.Create(filepath.Join(dir, "rates_by_layer.csv"), func(w *bufio.Writer) error {
		c := csv.NewWriter(w)
		c.Write([]string{"set", "layer", "n", "excluded", "mean", "std", "ci95_low", "ci95_high"})
		for _, lr := range res.Rates {
			c.Write([]string{lr.Set, lr.Layer, strconv.Itoa(lr.N), strconv.Itoa(lr.ExcludedN), ftoa(lr.Mean), ftoa(lr.Std),
				ftoa(lr.Low), ftoa(lr.High)})
		}
		c.Flush()
		return c.Error()
	})
	if err != nil {
		return err
	}
	base := "attributes_" + intervention
	fig := plots.LineBands{Title: "attributes rate (" + intervention + ")", XLabel: "layer", YLabel: "attributes rate (%)",
		Width: 5 * vg.Inch, Height: 3 * vg.Inch}
	dashes := [][]vg.Length{nil, plots.Dashed, plots.Dotted}
	for si, s := range sets {
		se := plots.BandSeries{Name: s, Color: setColors[si%len(setColors)], Dashes: dashes[si%len(dashes)]}
		for l := 0; l < nLayer; l++ {
			se.X = append(se.X, float64(l))
			y, lo, hi := math.NaN(), math.NaN(), math.NaN()
			for _, lr := range res.Rates {
				if lr.Set == s && lr.Layer == strconv.Itoa(l) {
					y, lo, hi = lr.Mean, lr.Low, lr.High
				}
			}
			se.Y, se.Lo, se.Hi = append(se.Y, y), append(se.Lo, lo), append(se.Hi, hi)
		}
		fig.Series = append(fig.Series, se)
	}
	if _, err := fig.Figure().Save(filepath.Join(dir, base)); err != nil {
		return err
	}
	res.Summary.Figure = base + ".png"
	js, err := json.MarshalIndent(res.Summary, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "summary.json"), append(js, '\n'))
}
