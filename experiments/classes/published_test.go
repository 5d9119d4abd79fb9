package classes

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wcos-dev/wcos/internal/runinfo"
)

// TestPublishedTables checks the transcription of paper-spec §8.1 against itself: each gated model's
// counts add up to L × d_mlp and its weakening neurons per layer to its weakening total; OLMo-7B's
// per-layer table adds up to its totals, each layer to d_mlp; the vanilla totals that the spec gives
// a shape for add up to it (GPT-2 small 12 × 3072; T5 stacks encoder and decoder layers; BERT;
// Othello-GPT 8 × 2048).
func TestPublishedTables(t *testing.T) {
	if len(PublishedModels) != 36 {
		t.Fatalf("%d published models, want the paper's 12 gated and 24 vanilla", len(PublishedModels))
	}
	shapes := map[string]int64{"gpt2": 12 * 3072, "google-t5/t5-small": 12 * 2048, "google-t5/t5-base": 24 * 3072,
		"google-bert/bert-base-cased": 12 * 3072, "Baidicoot/Othello-GPT-Transformer-Lens": 8 * 2048, "EleutherAI/pythia-14m": 6 * 512}
	for _, p := range PublishedModels {
		if p.Vanilla {
			if n, ok := shapes[p.Model]; ok && p.Neurons() != n {
				t.Errorf("%s: %d neurons, want %d", p.Model, p.Neurons(), n)
			}
			continue
		}
		if p.Neurons() != int64(p.Layers*p.DMLP) {
			t.Errorf("%s: %d neurons, want %d × %d", p.Model, p.Neurons(), p.Layers, p.DMLP)
		}
		var w int64
		for _, x := range p.Weakening {
			w += x
		}
		if len(p.Weakening) != p.Layers || w != p.Totals[Weakening] {
			t.Errorf("%s: %d layers of weakening neurons summing to %d, want %d summing to %d", p.Model, len(p.Weakening), w, p.Layers, p.Totals[Weakening])
		}
		if p.PerLayer == nil {
			continue
		}
		var sum [NumClasses]int64
		for l, row := range p.PerLayer {
			var n int64
			for c, x := range row {
				sum[c] += x
				n += x
			}
			if n != int64(p.DMLP) || row[Weakening] != p.Weakening[l] {
				t.Errorf("%s layer %d: %d neurons, %d weakening; want %d, %d", p.Model, l, n, row[Weakening], p.DMLP, p.Weakening[l])
			}
		}
		if len(p.PerLayer) != p.Layers || sum != p.Totals {
			t.Errorf("%s: per-layer table of %d layers sums to %v, want %d layers summing to %v", p.Model, len(p.PerLayer), sum, p.Layers, p.Totals)
		}
	}
}

func TestFindPublished(t *testing.T) {
	for _, c := range []struct{ name, want string }{
		{"allenai/OLMo-7B-0424-hf", "allenai/OLMo-7B-0424-hf"},
		{"/data/OLMo-7B-0424-hf/", "allenai/OLMo-7B-0424-hf"},
		{"olmo-7b-0424.q8_0.gguf", "allenai/OLMo-7B-0424-hf"},
		{"OLMo-7B-0424-hf-Q4_K_M.gguf", "allenai/OLMo-7B-0424-hf"},
		{"Llama-3.2-1B", "meta-llama/Llama-3.2-1B"},
		{"llama_3.2_1b.f16.gguf", "meta-llama/Llama-3.2-1B"},
		{"Qwen2.5-0.5B", "Qwen/Qwen2.5-0.5B"},
		{"gpt2", "gpt2"},
		{"gpt2-medium", "gpt2-medium"},
		{"opt-1.3b", "facebook/opt-1.3b"},
		{"opt-13b", "facebook/opt-13b"},
		{"models/t5-small", "google-t5/t5-small"},
		{"othello", "Baidicoot/Othello-GPT-Transformer-Lens"},
		{"Othello-GPT-Transformer-Lens", "Baidicoot/Othello-GPT-Transformer-Lens"},
		{"tiny-olmo", ""},
		{"OLMo-7B", ""},
		{"", ""},
	} {
		got := ""
		if p := FindPublished(c.name); p != nil {
			got = p.Model
		}
		if got != c.want {
			t.Errorf("FindPublished(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}

// publishedRun is a Result with the published model's shape whose counts are p's (per layer where
// published, else all in layer 0).
func publishedRun(p *Published, layers, dmlp int) *Result {
	r := &Result{Model: p.Model, Dims: Dims{NLayers: layers, DMLP: dmlp}, Options: DefaultOptions(), Counts: make([][NumClasses]int64, layers)}
	r.Neurons = make([]Neuron, layers*dmlp)
	if p.Vanilla {
		r.Neurons[0].NormGate = math.NaN() // what a vanilla MLP's neurons hold
	}
	for l := range layers {
		r.Layers = append(r.Layers, l)
		if p.PerLayer != nil {
			r.Counts[l] = p.PerLayer[l]
		}
	}
	if p.PerLayer == nil {
		r.Counts[0] = p.Totals
	}
	return r
}

// TestComparePublished: a run with OLMo-7B's published counts agrees in all 11 totals and 32 × 11
// layer counts; one neuron moved from CS to W in layer 31 shows as two totals and two layer counts
// off by one. A vanilla model compares its three totals; a run of another shape or of some layers only
// is refused.
func TestComparePublished(t *testing.T) {
	olmo := FindPublished("OLMo-7B-0424-hf")
	r := publishedRun(olmo, 32, 11008)
	c, err := r.ComparePublished(olmo)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Rows) != 11+32*11 || c.Equal != len(c.Rows) || c.MaxDiff != 0 {
		t.Fatalf("OLMo-7B: %d rows, %d equal, max diff %d", len(c.Rows), c.Equal, c.MaxDiff)
	}
	r.Counts[31][ConditionalStrengthening]--
	r.Counts[31][Weakening]++
	if c, _ = r.ComparePublished(olmo); c.Equal != len(c.Rows)-4 || c.MaxDiff != 1 {
		t.Fatalf("OLMo-7B, one neuron moved: %d of %d equal, max diff %d", c.Equal, len(c.Rows), c.MaxDiff)
	}
	dir := t.TempDir()
	r.Regions.Mode = RegionNone
	r.Paper = c
	info := runinfo.New("classes", nil)
	info.Model = &runinfo.FileInfo{Path: olmo.Model}
	if err := r.WriteDir(filepath.Join(dir, "out"), WriteOptions{Formats: []string{}, Run: info}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "out", "paper.md"))
	if err != nil {
		t.Fatal(err)
	}
	if md := string(b); !strings.Contains(md, "| 31 | weakening | 139 | 138 | +1 |") || !strings.Contains(md, "| total | conditional strengthening | 121670 | 121671 | -1 |") {
		t.Errorf("paper.md:\n%s", md)
	}
	if r.Summary().Paper.Equal != c.Equal || !strings.Contains(r.Text(), "paper (allenai/OLMo-7B-0424-hf): 359 of 363 counts equal, largest difference 1") {
		t.Errorf("summary %+v, text %q", r.Summary().Paper, r.Text())
	}

	pythia := FindPublished("pythia-14m")
	v := publishedRun(pythia, 6, 512)
	if c, err := v.ComparePublished(pythia); err != nil || len(c.Rows) != 3 || c.Equal != 3 {
		t.Fatalf("pythia-14m: %+v, %v", c, err)
	}
	for name, bad := range map[string]*Result{
		"another shape":    publishedRun(olmo, 32, 8192),
		"gated as vanilla": publishedRun(pythia, 6, 512),
	} {
		if name == "gated as vanilla" {
			bad.Neurons[0].NormGate = 1
		}
		if _, err := bad.ComparePublished(map[string]*Published{"another shape": olmo, "gated as vanilla": pythia}[name]); err == nil {
			t.Errorf("%s: compared", name)
		}
	}
	some := publishedRun(olmo, 32, 11008)
	some.Layers = some.Layers[:4]
	if _, err := some.ComparePublished(olmo); err == nil || !strings.Contains(err.Error(), "4 of 32 layers") {
		t.Errorf("some layers: error %v", err)
	}
}
