package generate

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/internal/testmodels"
)

func TestMain(m *testing.M) { testmodels.Main(m) }

// TestRun generates on tiny-olmo clean, with a set and with a baseline, and checks every run against
// greedy decoding that re-runs the whole row with the same hooks at each step; mean ablation with all
// means 0 must equal zero ablation; the outputs hold every generation.
// One thread: ggml's CPU threads spin at every barrier, and the small decodes of generation stall
// when test binaries share the cores (docs/benchmarks.md).
func TestRun(t *testing.T) {
	model := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	m, err := bindings.LoadModel(model, bindings.ModelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var layer7 []hooks.Neuron
	for i := 0; i < m.NFF(); i += 2 {
		layer7 = append(layer7, hooks.Neuron{Layer: 7, Index: i})
	}
	set := &hooks.NamedSet{Name: "conditional weakening", Neurons: layer7}
	baseline := &hooks.NamedSet{Name: "conditional weakening_baseline", Neurons: testmodels.ReferenceAblated()}
	prompts := []string{"", "The capital of France is", "In 1848"}
	const maxNew = 24
	cases := []struct {
		name string
		cfg  Config
	}{
		{"zero", Config{Ablation: "zero"}},
		{"zero gate-", Config{Ablation: "zero", Gate: -1}}, // a gate condition needs no refactor signs
		{"mean 0", Config{Ablation: "mean", Means: zeros(layer7, testmodels.ReferenceAblated())}},
	}
	var texts [][]Generation
	for _, c := range cases {
		cfg := c.cfg
		cfg.Model, cfg.Prompts, cfg.MaxNew, cfg.Set, cfg.Baseline, cfg.Exact, cfg.Threads = model, prompts, maxNew, set, baseline, true, 1
		cfg.Out = filepath.Join(t.TempDir(), "out")
		gens, err := Run(cfg)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		texts = append(texts, gens)
		if len(gens) != 3*len(prompts) {
			t.Fatalf("%s: %d generations, want %d", c.name, len(gens), 3*len(prompts))
		}
		for _, g := range gens {
			var abl *hooks.Ablation
			switch g.Set {
			case set.Name:
				abl = &hooks.Ablation{Neurons: set.Neurons, Gate: cfg.Gate}
			case baseline.Name:
				abl = &hooks.Ablation{Neurons: baseline.Neurons, Gate: cfg.Gate}
			}
			want := redecode(t, m, prompts[g.Prompt], maxNew, abl)
			if !slices.Equal(g.Tokens, want) {
				t.Errorf("%s: %s, prompt %d: generated %v, re-decoding %v", c.name, g.Set, g.Prompt, g.Tokens, want)
			}
			if !strings.HasPrefix(g.Text, prompts[g.Prompt]) || g.EOS != slices.Contains(g.Tokens, m.EOS()) {
				t.Errorf("%s: %s, prompt %d: text %q, eos %v", c.name, g.Set, g.Prompt, g.Text, g.EOS)
			}
		}
		// generations.jsonl and the reference's text files.
		f, err := os.Open(filepath.Join(cfg.Out, "generations.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		var back []Generation
		for sc := bufio.NewScanner(f); sc.Scan(); {
			var g Generation
			if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
				t.Fatal(err)
			}
			back = append(back, g)
		}
		f.Close()
		if !reflect.DeepEqual(back, gens) {
			t.Errorf("%s: generations.jsonl differs from the result", c.name)
		}
		for _, dir := range []string{"clean", "conditional_weakening", "conditional_weakening_baseline"} {
			b, err := os.ReadFile(filepath.Join(cfg.Out, dir, "generated_greedy.txt"))
			if err != nil || !strings.Contains(string(b), "=== prompt 2 ===\n"+prompts[2]) {
				t.Errorf("%s: %s/generated_greedy.txt: %q %v", c.name, dir, b, err)
			}
		}
	}
	if !reflect.DeepEqual(texts[0], relabel(texts[2], texts[0][len(prompts)].Intervention)) {
		t.Errorf("mean ablation with means 0 differs from zero ablation")
	}
	if slices.Equal(texts[0][0].Tokens, texts[0][len(prompts)].Tokens) {
		t.Errorf("ablating half of layer 7 left the first generation as it was: %q", texts[0][0].Text)
	}
}

func zeros(sets ...[]hooks.Neuron) map[hooks.Neuron]float32 {
	out := map[hooks.Neuron]float32{}
	for _, s := range sets {
		for _, n := range s {
			out[n] = 0
		}
	}
	return out
}

func relabel(gens []Generation, intervention string) []Generation {
	out := slices.Clone(gens)
	for i := range out {
		if out[i].Set != "clean" {
			out[i].Intervention = intervention
		}
	}
	return out
}

// redecode is greedy decoding that runs the whole row again at every step.
func redecode(t *testing.T, m *bindings.Model, prompt string, maxNew int, abl *hooks.Ablation) []int32 {
	t.Helper()
	ids, err := m.Tokenize(prompt)
	if err != nil {
		t.Fatal(err)
	}
	seq := append([]int32{m.EOS()}, ids...)
	ctx, err := m.NewContext(bindings.ContextOptions{MaxTokens: len(seq) + maxNew, Exact: true, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Close()
	if err := ctx.SetHooks(hooks.Spec{Ablation: abl}); err != nil {
		t.Fatal(err)
	}
	var out []int32
	for len(out) < maxNew {
		if err := ctx.Decode([][]int32{seq}); err != nil {
			t.Fatal(err)
		}
		lg := ctx.Logits(len(seq) - 1)
		best := 0
		for i, v := range lg {
			if v > lg[best] {
				best = i
			}
		}
		out, seq = append(out, int32(best)), append(seq, int32(best))
		if int32(best) == m.EOS() {
			break
		}
	}
	return out
}

// TestBatchIndependent: greedy and sampled generations are the same whether the prompts go 1, 3 or
// all at a time (each prompt samples from its own stream, whatever the batch), in exact mode. In the
// default mode flash attention over the shared F16 KV cache rounds differently with other rows
// beside a prompt, and a sampled text can then change (measured: it did here at T = 1).
func TestBatchIndependent(t *testing.T) {
	model := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	prompts := []string{"", "The capital of France is", "In 1848", "Fellow-Citizens"}
	for _, smp := range []*bindings.Sampling{nil, {Temperature: 1, Seed: 5}} {
		var first []Generation
		for _, batch := range []int{1, 3, 16} {
			gens, err := Run(Config{Model: model, Prompts: prompts, MaxNew: 12, Batch: batch, Sampling: smp, Threads: 1, Exact: true,
				Set: &hooks.NamedSet{Name: "w", Neurons: testmodels.ReferenceAblated()}, Out: filepath.Join(t.TempDir(), "out")})
			if err != nil {
				t.Fatal(err)
			}
			if first == nil {
				first = gens
			} else if !reflect.DeepEqual(gens, first) {
				t.Errorf("sampling %+v: batch %d differs from batch 1", smp, batch)
			}
		}
	}
}
