package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/wcos-dev/wcos/experiments/freqs"
	"github.com/wcos-dev/wcos/internal/testmodels"
	"github.com/wcos-dev/wcos/safetensors"
)

// runCLI runs `wcos args…` in-process through the real application.
func runCLI(t *testing.T, args ...string) error {
	t.Helper()
	return newApp().Run(append([]string{"wcos"}, args...))
}

// tree lists a folder's files with sizes and times, to see that a failed run left it alone.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil {
			out = append(out, fmt.Sprintf("%s %d %d", p, info.Size(), info.ModTime().UnixNano()))
		}
		return nil
	})
	return out
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const goodRows = `{"text": "The quick brown fox jumps over the lazy dog."}
{"text": "It was the best of times, it was the worst of times."}
{"input_ids": [50, 60, 70, 80, 90, 100, 110, 120, 130, 140]}
`

// TestCLIBadInput: every bad input fails before any output is made, with a one-line error that names
// the file (or flag) and the problem, and leaves an existing output folder as it was.
func TestCLIBadInput(t *testing.T) {
	model := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	dir := t.TempDir()
	good := writeFile(t, filepath.Join(dir, "good.jsonl"), goodRows)
	badJSON := writeFile(t, filepath.Join(dir, "badjson.jsonl"), `{"text": "fine"}`+"\n"+`{"text": "oops`+"\n")
	noField := writeFile(t, filepath.Join(dir, "nofield.jsonl"), `{"text": "fine"}`+"\n"+`{"txt": "neither"}`+"\n")
	bigID := writeFile(t, filepath.Join(dir, "bigid.jsonl"), `{"input_ids": [1, 2, 50304]}`+"\n")
	empty := writeFile(t, filepath.Join(dir, "empty.jsonl"), "")
	long := writeFile(t, filepath.Join(dir, "long.jsonl"), `{"input_ids": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]}`+"\n")
	neurons := writeFile(t, filepath.Join(dir, "neurons.txt"), "# weakening\n5.1\n5.x\n")
	means := writeFile(t, filepath.Join(dir, "means.csv"), "neuron,value\n5.1,0.25\n5.2,zero\n")
	noCol := filepath.Join(dir, "nocol.parquet")
	if err := parquet.WriteFile(noCol, []struct {
		Body string `parquet:"body"`
	}{{"some text"}}); err != nil {
		t.Fatal(err)
	}

	// Two summaries of one model with different k, and one claiming another model.
	s2, s3 := filepath.Join(dir, "k2"), filepath.Join(dir, "k3")
	for _, c := range []struct{ out, k string }{{s2, "2"}, {s3, "3"}} {
		if err := runCLI(t, "freqs", "--model", model, "--dataset", good, "--k", c.k, "--max-length", "32", "--threads", "2", "--out", c.out); err != nil {
			t.Fatalf("freqs --k %s: %v", c.k, err)
		}
	}
	other, err := freqs.Read(filepath.Join(s2, "summary.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	other.Meta["model_sha256"] = strings.Repeat("ab", 32)
	otherSum := filepath.Join(dir, "other.safetensors")
	if err := other.Write(otherSum); err != nil {
		t.Fatal(err)
	}

	common := []string{"--model", model, "--threads", "2", "--max-length", "32"}
	cases := []struct {
		name string
		args []string
		want []string // substrings of the error: the file or flag, and the problem
	}{
		{"entropy layer out of range", []string{"entropy", "--dataset", good, "--neurons", "99.0"}, []string{"--neurons", "99.0", "8 layers", model}},
		{"entropy neuron out of range", []string{"entropy", "--dataset", good, "--neurons", "5.9999"}, []string{"--neurons", "5.9999", "688 neurons", model}},
		{"entropy malformed --neurons file", []string{"entropy", "--dataset", good, "--neurons", "@" + neurons}, []string{neurons + ":3", "5.x"}},
		{"entropy bad JSON row", []string{"entropy", "--dataset", badJSON}, []string{badJSON + ":2", "JSON"}},
		{"entropy row without text or input_ids", []string{"entropy", "--dataset", noField}, []string{noField + ":2", "input_ids"}},
		{"entropy token id ≥ vocab", []string{"entropy", "--dataset", bigID}, []string{bigID + ":1", "50304", "vocab"}},
		{"entropy empty dataset", []string{"entropy", "--dataset", empty}, []string{empty, "no rows"}},
		{"entropy --means CSV bad line", []string{"entropy", "--dataset", good, "--neurons", "5.1,5.2", "--ablation", "mean", "--means", means}, []string{means + ":3", "5.2,zero"}},
		{"entropy --ablation mean without --means", []string{"entropy", "--dataset", good, "--neurons", "5.1", "--ablation", "mean"}, []string{"--ablation mean", "--means"}},
		{"entropy --means of another model", []string{"entropy", "--dataset", good, "--neurons", "5.1", "--ablation", "mean", "--means", otherSum}, []string{"--means " + otherSum, "abababababab", model}},
		{"freqs empty dataset", []string{"freqs", "--dataset", empty}, []string{empty, "no rows"}},
		{"freqs input_ids longer than --max-length", []string{"freqs", "--dataset", long, "--max-length", "8"}, []string{long + ":1", "max length 8"}},
		{"freqs Parquet without the column", []string{"freqs", "--dataset", noCol}, []string{noCol, "column", "body"}},
		{"freqs bad --shard", []string{"freqs", "--dataset", good, "--shard", "2/2"}, []string{"--shard", "2/2"}},
		{"freqs unparsable --shard", []string{"freqs", "--dataset", good, "--shard", "x"}, []string{"--shard", `"x"`}},
		{"entropy bad --per-row", []string{"entropy", "--dataset", good, "--per-row", "yes"}, []string{"--per-row", `"yes"`, "auto, on or off"}},
		{"freqs bad --per-row", []string{"freqs", "--dataset", good, "--per-row", "1"}, []string{"--per-row", `"1"`}},
		{"merge of another model's summaries", []string{"merge", "--model", model, otherSum}, []string{otherSum, "abababababab", "--model"}},
		{"merge different k", []string{"merge", "--model", model, filepath.Join(s2, "summary.safetensors"), filepath.Join(s3, "summary.safetensors")}, []string{filepath.Join(s3, "summary.safetensors"), "k 3", "k 2"}},
	}
	for _, c := range cases {
		// Case flags after the common ones, so that they win; merge's flags before its summaries.
		args := append(append([]string{c.args[0]}, common...), c.args[1:]...)
		if c.args[0] == "merge" {
			args = append([]string{"merge"}, c.args[1:]...)
		}
		checkBadInput(t, dir, c.name, args, c.want)
	}
}

// checkBadInput runs wcos with args and "--out DIR/out" twice, without and with an existing output
// folder: each must fail with a one-line error containing every string of want, leave an existing
// folder as it was, and leave no output, temporary or checkpoint folder.
func checkBadInput(t *testing.T, dir, name string, args, want []string) {
	t.Helper()
	for _, existing := range []bool{false, true} {
		out := filepath.Join(dir, "out")
		os.RemoveAll(out)
		var before []string
		if existing {
			if err := os.MkdirAll(out, 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(out, "keep.txt"), "earlier result")
			before = tree(t, out)
		}
		// --out before any positional arguments (merge's summaries).
		err := runCLI(t, append([]string{args[0], "--out", out}, args[1:]...)...)
		if err == nil {
			t.Errorf("%s (existing out %v): no error", name, existing)
			continue
		}
		msg := err.Error()
		if !existing {
			t.Logf("%-42s wcos: %s", name, msg)
		}
		if strings.Contains(msg, "\n") {
			t.Errorf("%s: error is not one line: %q", name, msg)
		}
		for _, w := range want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: error %q does not contain %q", name, msg, w)
			}
		}
		if existing {
			if after := tree(t, out); !slices.Equal(before, after) {
				t.Errorf("%s: existing output folder changed:\nbefore %v\nafter  %v", name, before, after)
			}
		} else if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: output folder %s exists after the error", name, out)
		}
		if ents, _ := filepath.Glob(filepath.Join(dir, ".out*")); len(ents) > 0 {
			t.Errorf("%s: temporary files left: %v", name, ents)
		}
		if _, err := os.Stat(out + ".partial"); err == nil {
			t.Errorf("%s: checkpoint folder %s.partial left", name, out)
			os.RemoveAll(out + ".partial")
		}
	}
}

// TestCLIFreqsMerge: two shards through `wcos freqs` and `wcos merge` give a merged folder with the
// summary of all tokens and every table and figure.
func TestCLIFreqsMerge(t *testing.T) {
	model := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	dir := t.TempDir()
	ds := writeFile(t, filepath.Join(dir, "d.jsonl"), goodRows)
	var tokens int64
	var parts []string
	for i := range 2 {
		out := filepath.Join(dir, fmt.Sprintf("part%d", i))
		if err := runCLI(t, "freqs", "--model", model, "--dataset", ds, "--max-length", "32", "--k", "2", "--threads", "2",
			"--shard", fmt.Sprintf("%d/2", i), "--log=false", "--out", out); err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
		s, err := freqs.Read(filepath.Join(out, "summary.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		tokens += s.Tokens
		parts = append(parts, out)
	}
	out := filepath.Join(dir, "merged")
	if err := runCLI(t, append([]string{"merge", "--model", model, "--log=false", "--out", out}, parts...)...); err != nil {
		t.Fatal(err)
	}
	m, err := freqs.Read(filepath.Join(out, "summary.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Tokens != tokens || m.Meta["shard"] != "0/1" {
		t.Errorf("merged: %d tokens, shard %q; want %d, 0/1", m.Tokens, m.Meta["shard"], tokens)
	}
	for _, f := range []string{"neurons.parquet", "neurons.csv", "freqs_by_class.csv", "freqs_by_class.md", "layers.png", "categories.svg", "linout.png", "norm_in_out.svg"} {
		for _, d := range []string{out, parts[0]} {
			if _, err := os.Stat(filepath.Join(d, f)); err != nil {
				t.Errorf("%v", err)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(parts[0], "run.json")); err != nil {
		t.Errorf("freqs: %v", err)
	}
}

// TestCLIEntropy runs a small unablated and ablated entropy pass end to end.
func TestCLIEntropy(t *testing.T) {
	model := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	dir := t.TempDir()
	for _, c := range []struct {
		name  string
		extra []string
		abl   int
	}{
		{"clean", nil, 0},
		{"zero ablation gate-", []string{"--neurons", "5.1,7.100", "--gate", "-"}, 2},
	} {
		out := filepath.Join(dir, c.name)
		args := append([]string{"entropy", "--model", model, "--max-tokens", "300", "--max-length", "64", "--threads", "2", "--out", out}, c.extra...)
		if err := runCLI(t, args...); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var sum map[string]any
		b, err := os.ReadFile(filepath.Join(out, "summary.json"))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if err := json.Unmarshal(b, &sum); err != nil {
			t.Fatalf("%s: summary.json: %v", c.name, err)
		}
		f, err := safetensors.Open(filepath.Join(out, "metrics.safetensors"))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		lengths, err := f.Int32("lengths")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var tokens, width int64
		for _, l := range lengths {
			if l <= 0 || l > 64 {
				t.Errorf("%s: row length %d outside 1…64", c.name, l)
			}
			tokens += int64(l)
			width = max(width, int64(l))
		}
		for _, name := range []string{"entropy", "loss", "rank", "scale"} {
			info, err := f.Info(name)
			if err != nil || !slices.Equal(info.Shape, []int64{int64(len(lengths)), width}) {
				t.Errorf("%s: %s shape %v (%v), want [%d %d]", c.name, name, info.Shape, err, len(lengths), width)
			}
		}
		f.Close()
		if tokens < 300 || tokens >= 300+64 {
			t.Errorf("%s: %d tokens for --max-tokens 300", c.name, tokens)
		}
		if sum["rows"] != float64(len(lengths)) || sum["tokens"] != float64(tokens) || sum["loss_tokens"] != float64(tokens-int64(len(lengths))) ||
			sum["ablated_neurons"] != float64(c.abl) {
			t.Errorf("%s: summary.json %v for %d rows, %d tokens, %d ablated", c.name, sum, len(lengths), tokens, c.abl)
		}
		if e, _ := sum["mean_entropy"].(float64); e <= 0 || e > 11 {
			t.Errorf("%s: mean entropy %v", c.name, e)
		}
		if _, err := os.Stat(filepath.Join(out, "run.json")); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestMain(m *testing.M) { testmodels.Main(m) }

// TestCLINestedOut: an --out whose parent folders do not exist yet is created (it once failed only
// after the whole run, when the result was moved into place).
func TestCLINestedOut(t *testing.T) {
	model := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	out := filepath.Join(t.TempDir(), "a", "b", "run")
	if err := runCLI(t, "entropy", "--model", model, "--max-tokens", "100", "--max-length", "32", "--out", out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "metrics.safetensors")); err != nil {
		t.Fatal(err)
	}
}

// TestCLIOutHoldsInput: a run replaces its --out folder as a whole, so an --out that holds one of the
// command's inputs (a flag's file, an @FILE, an argument) is refused before anything is read or written.
func TestCLIOutHoldsInput(t *testing.T) {
	model := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(filepath.Join(data, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	facts := writeFile(t, filepath.Join(data, "sub", "facts.jsonl"), `{"id": 0, "subject": "Chad", "template": "{} is in", "prompt": "Chad is in", "attribute": "Africa"}`+"\n")
	paras := writeFile(t, filepath.Join(data, "p.txt"), "Chad is a country.\n")
	titles := writeFile(t, filepath.Join(data, "t.txt"), "Chad\n")
	set := writeFile(t, filepath.Join(data, "set.txt"), "5.1\n")
	rows := writeFile(t, filepath.Join(data, "rows.jsonl"), goodRows)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"knowns --facts inside", []string{"knowns", "--model", model, "--facts", facts, "--out", data}},
		{"attributes --neurons @FILE inside", []string{"attributes", "--model", model, "--neurons", "@" + set, "--out", data}},
		{"entropy --dataset inside, --out the file's folder by another name", []string{"entropy", "--model", model, "--dataset", rows, "--out", filepath.Join(data, "sub", "..")}},
		{"wiki --paragraphs inside", []string{"wiki", "--paragraphs", paras, "--titles", titles, "--out", data}},
		{"compare: a run folder is --out", []string{"compare", "--clean", filepath.Join(data, "sub"), "--out", data, filepath.Join(data, "sub")}},
		{"dataset --force over a source", []string{"dataset", "--model", model, "--force", "--out", data, rows}},
	} {
		before := tree(t, data)
		err := runCLI(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), "holds the input") {
			t.Errorf("%s: error %v, want one saying --out holds an input", c.name, err)
		}
		if after := tree(t, data); !slices.Equal(before, after) {
			t.Errorf("%s: the inputs' folder changed", c.name)
		}
	}
}

// TestCLIOtherArchitectures runs the experiments' chain on random Llama and Gemma-2 GGUFs (ollama's
// converter): neuron sets chosen by class from the GGUF's weights (the RMSNorm fold), a conditional
// ablation on refactored signs, activation statistics, generation and the attributes lens. The numbers
// are checked by the packages' tests; this checks that every command accepts these architectures and
// writes its outputs.
func TestCLIOtherArchitectures(t *testing.T) {
	for _, arch := range append(slices.Clone(testmodels.RMSArchs), "gpt2") {
		t.Run(arch, func(t *testing.T) {
			var model string
			if arch == "gpt2" { // a non-gated MLP and a final LayerNorm with a weight
				model = testmodels.VanillaModel(t, nil)
			} else {
				model = testmodels.RMSModel(t, arch, nil)
			}
			dir := t.TempDir()
			for _, c := range []struct {
				name string
				args []string
				want string // a file the run must write
			}{
				{"neurons", []string{"neurons", "--set", "orthogonal output", "--n-neurons", "6", "-o", filepath.Join(dir, "set.txt")}, ""},
				{"entropy", []string{"entropy", "--neurons", "@" + filepath.Join(dir, "set.txt"), "--gate", "-", "--post", "+",
					"--max-tokens", "200", "--max-length", "64"}, "metrics.safetensors"},
				{"freqs", []string{"freqs", "--max-tokens", "200", "--max-length", "64"}, "summary.safetensors"},
				{"generate", []string{"generate", "--neurons", "1.3,1.4", "--max-new-tokens", "6"}, "generations.jsonl"},
				{"attributes", []string{"attributes", "--neurons", "1.3", "--max-facts", "4"}, "records.parquet"},
			} {
				args := append([]string{c.args[0], "--model", model}, c.args[1:]...)
				if c.name != "neurons" {
					args = append(args, "--threads", "1")
				}
				out := filepath.Join(dir, c.name)
				if c.want != "" {
					args = append(args, "--out", out)
				}
				if err := runCLI(t, args...); err != nil {
					t.Fatalf("%s %s: %v", arch, c.name, err)
				}
				if c.want != "" {
					if _, err := os.Stat(filepath.Join(out, c.want)); err != nil {
						t.Errorf("%s %s: %v", arch, c.name, err)
					}
				}
			}
		})
	}
}
