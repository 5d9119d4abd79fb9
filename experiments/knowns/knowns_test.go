package knowns

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/data"
	"github.com/wcos-dev/wcos/experiments/attributes"
	"github.com/wcos-dev/wcos/internal/pystr"
	"github.com/wcos-dev/wcos/internal/testmodels"
)

func TestMain(m *testing.M) { testmodels.Main(m) }

// TestRun runs the filter on tiny-olmo over 120 embedded facts and a planted one and checks it in
// general: facts generated 1 and 7 at a time give the same result; every fact is known, unknown or
// undecided; a known fact's prompt and prediction are the generated text, cut before the attribute;
// each fact's text is what greedy generation from its prompt gives (checked on the first rounds
// with bindings.Context.Generate directly); knowns.jsonl reads back as facts.
// One thread: ggml's CPU threads spin at every barrier, and the small decodes of generation stall
// when test binaries share the cores (docs/benchmarks.md).
func TestRun(t *testing.T) {
	model := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	dir := t.TempDir()
	src, err := data.Extract(dir, "facts/facts.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	all, err := attributes.ReadFacts(src)
	if err != nil {
		t.Fatal(err)
	}
	// The planted fact's attribute is what tiny-olmo writes first after its prompt.
	m, err := bindings.LoadModel(model, bindings.ModelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, err := m.NewContext(bindings.ContextOptions{MaxTokens: 256, MaxRows: 1, Exact: true, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Close()
	greedy := func(text string, n int) string {
		ids, err := m.Tokenize(text)
		if err != nil {
			t.Fatal(err)
		}
		out, err := ctx.Generate([][]int32{append([]int32{m.EOS()}, ids...)}, bindings.GenerateOptions{MaxNew: n, Stop: []int32{m.EOS()}})
		if err != nil {
			t.Fatal(err)
		}
		return m.Detokenize(append(ids, out[0]...))
	}
	planted := attributes.Fact{ID: 9999, Subject: "Ruritania", Template: "The capital of {} is", Prompt: "The capital of Ruritania is"}
	gen := strings.TrimPrefix(greedy(Prompt(planted.Template, planted.Subject), 10), Prompt(planted.Template, planted.Subject))
	for _, w := range pystr.Fields(gen) {
		if pystr.StartsUpper(w) {
			planted.Attribute = strings.TrimRight(w, ".,;:")
			break
		}
	}
	if planted.Attribute == "" {
		t.Fatalf("tiny-olmo wrote no capitalised word after %q: %q", planted.Prompt, gen)
	}
	facts := append(all[:120:120], planted)
	var lines []string
	for _, f := range facts {
		b, _ := json.Marshal(f)
		lines = append(lines, string(b))
	}
	path := filepath.Join(dir, "facts.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	var results []*Result
	for _, batch := range []int{1, 7} {
		out := filepath.Join(dir, "out", string(rune('a'+len(results))))
		res, err := Run(Config{Model: model, Facts: path, Batch: batch, MaxTokens: 30, Exact: true, Threads: 1, Out: out})
		if err != nil {
			t.Fatalf("batch %d: %v", batch, err)
		}
		results = append(results, res)
		s := res.Summary
		if s.Facts != len(facts) || s.Known+s.Unknown+s.Undecided != s.Facts || s.Known != len(res.Known) || len(res.Rejected) != s.Unknown+s.Undecided {
			t.Errorf("batch %d: summary %+v with %d known, %d rejected", batch, s, len(res.Known), len(res.Rejected))
		}
		back, err := attributes.ReadFacts(filepath.Join(out, "knowns.jsonl"))
		if err != nil {
			t.Fatalf("batch %d: knowns.jsonl: %v", batch, err)
		}
		if len(back) != len(res.Known) {
			t.Errorf("batch %d: knowns.jsonl has %d facts, want %d", batch, len(back), len(res.Known))
		}
		for _, f := range []string{"rejected.jsonl", "summary.json"} {
			if _, err := os.Stat(filepath.Join(out, f)); err != nil {
				t.Error(err)
			}
		}
	}
	if !reflect.DeepEqual(results[0].Known, results[1].Known) || !reflect.DeepEqual(results[0].Rejected, results[1].Rejected) {
		t.Errorf("batch 1 and batch 7 differ")
	}
	res := results[1]
	if res.Summary.Known == 0 || res.Summary.Unknown == 0 {
		t.Errorf("summary %+v: want both known and unknown facts", res.Summary)
	}
	found := false
	for _, k := range res.Known {
		p := Prompt(k.Template, k.Subject)
		if !strings.HasPrefix(k.Prompt, p) || !strings.HasPrefix(strings.ToLower(k.Prediction), strings.ToLower(k.Attribute)) {
			t.Errorf("fact %d: prompt %q, prediction %q: want the prompt %q, then the attribute %q", k.ID, k.Prompt, k.Prediction, p, k.Attribute)
		}
		// One round of generation from the prompt holds the text up to the attribute.
		if text := greedy(p, 10); !strings.HasPrefix(text, k.Prompt) && !strings.HasPrefix(k.Prompt+k.Prediction, text) {
			t.Errorf("fact %d: %q is not greedy generation's %q", k.ID, k.Prompt+k.Prediction, text)
		}
		found = found || k.ID == planted.ID
	}
	if !found {
		t.Errorf("the planted fact (attribute %q after %q) is not known", planted.Attribute, planted.Prompt)
	}
	for _, r := range res.Rejected {
		if text := greedy(r.Prompt, 10); !strings.HasPrefix(r.Prompt+r.Generated, text) {
			t.Errorf("fact %d: %q does not start with greedy generation's %q", r.ID, r.Prompt+r.Generated, text)
		}
	}
}
