//go:build wcos_dynamic

package bindings_test

import (
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/internal/testmodels"
)

// TestDynamicOneGGML checks the rule of engine.md §6.4 in this process: one libggml-base mapped, and
// no ggml, gguf or llama symbol defined in the executable itself.
func TestDynamicOneGGML(t *testing.T) {
	m, err := bindings.LoadModel(tinyF32(t), bindings.ModelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	libs := bindings.MappedGGMLBase()
	if len(libs) != 1 {
		t.Fatalf("%d libggml-base mapped, want exactly 1: %v", len(libs), libs)
	}
	f, err := elf.Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil { // a stripped binary: its dynamic symbols still tell
		syms, err = f.DynamicSymbols()
	}
	if err != nil {
		t.Fatal(err)
	}
	var defined []string
	for _, s := range syms {
		if s.Section != elf.SHN_UNDEF && (strings.HasPrefix(s.Name, "ggml_") || strings.HasPrefix(s.Name, "gguf_") || strings.HasPrefix(s.Name, "llama_")) {
			defined = append(defined, s.Name)
		}
	}
	if len(defined) > 0 {
		t.Errorf("the executable defines %d ggml/llama symbols (a static copy), e.g. %v", len(defined), defined[:min(5, len(defined))])
	}
	var names []string
	cpu := false
	for _, d := range bindings.Devices() {
		names = append(names, fmt.Sprintf("%s (%s)", d.Name, d.Description))
		cpu = cpu || d.Name == "CPU"
	}
	if !cpu {
		t.Errorf("no CPU device among %v", names)
	}
	t.Logf("libggml-base: %s; devices: %s", libs[0], strings.Join(names, ", "))
}

// TestDynamicMatchesStatic compares this build's CPU results on tiny-olmo (F32, exact) with the static
// build's, bit for bit: every logit of 4×64 tokens and every captured activation. The static side is
// TestParityDump, run by `go test` without the tag (same CGO flags: run through make).
func TestDynamicMatchesStatic(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool here: the static build cannot be run")
	}
	out := filepath.Join(t.TempDir(), "static.f32")
	cmd := exec.Command(goTool, "test", "-count=1", "-run", "^TestParityDump$", "./bindings")
	cmd.Dir = testmodels.Root()
	cmd.Env = append(withoutGOFLAGS(os.Environ()), "WCOS_PARITY_OUT="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("static run: %v\n%s", err, b)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, len(raw)/4)
	for i := range want {
		want[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	ref := openReference(t, "tiny-olmo-reference.safetensors")
	r := parityRun(t, ref, 0)
	got := parityVector(r, len(ref.tokens)*r.rowLn)
	if len(got) != len(want) {
		t.Fatalf("dynamic build gave %d values, static %d", len(got), len(want))
	}
	diff := 0
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			diff++
		}
	}
	if diff > 0 {
		t.Errorf("%d of %d values differ from the static build (max abs diff %.3g)", diff, len(got), maxAbsDiff(got, want))
	}
	t.Logf("%d values (logits of %d tokens, gate/up/post of %d layers) identical to the static build", len(got), len(ref.tokens)*r.rowLn, r.m.NLayer())
}

func withoutGOFLAGS(env []string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, "GOFLAGS=") {
			out = append(out, e)
		}
	}
	return out
}

// TestGPUMatchesReference runs tiny-olmo on the GPU in exact mode against the Hugging Face reference and
// the CPU backend, and the reference ablations on the GPU (the hooks then read and write device
// buffers). Skipped without a GPU device unless WCOS_TEST_GPU=1 (scripts/gpu-check.sh), which makes a
// missing GPU a failure.
func TestGPUMatchesReference(t *testing.T) {
	gpu, layers := false, 999
	for _, d := range bindings.Devices() {
		gpu = gpu || d.GPU
	}
	if os.Getenv("WCOS_GPU_CHECK_CPU") == "1" { // rehearsal of scripts/gpu-check.sh without a GPU
		gpu, layers = true, 0
		t.Log("WCOS_GPU_CHECK_CPU=1: the GPU side runs on the CPU backend")
	}
	if !gpu {
		if os.Getenv("WCOS_TEST_GPU") == "1" {
			t.Fatal("WCOS_TEST_GPU=1 but no GPU device is loaded")
		}
		t.Skip("no GPU device")
	}
	ref := openReference(t, "tiny-olmo-reference.safetensors")
	L := len(ref.tokens[0])
	n := len(ref.tokens) * L
	g := parityRun(t, ref, layers)
	c := parityRun(t, ref, 0)

	want := ref.floats(t, "logits")
	var dLogit float64
	for s := range ref.tokens {
		for j, p := range ref.pos {
			off := (s*len(ref.pos) + j) * ref.nv
			dLogit = math.Max(dLogit, maxAbsDiff(g.ctx.Logits(s*L+int(p)), want[off:off+ref.nv]))
		}
	}
	var dAct float64
	for l := 0; l < g.m.NLayer(); l++ {
		for _, k := range []struct {
			kind bindings.Kind
			name string
		}{{bindings.Gate, "gate"}, {bindings.Up, "up"}, {bindings.Post, "post"}} {
			got := g.ctx.Captured(l, k.kind, g.m.NFF())[:L*g.m.NFF()]
			dAct = math.Max(dAct, maxAbsDiff(got, ref.floats(t, fmt.Sprintf("seq0.%s.%d", k.name, l))))
		}
	}
	t.Logf("GPU vs HF: logits max diff %.3g (tol %g), activations %.3g (tol %g)", dLogit, tolLogits, dAct, tolAct)
	if dLogit > tolLogits || dAct > tolAct {
		t.Errorf("GPU vs HF beyond tolerance: logits %.3g, activations %.3g", dLogit, dAct)
	}
	checkMetrics(t, "GPU clean", g, ref, "", true)
	gv, cv := parityVector(g, n), parityVector(c, n)
	t.Logf("GPU vs CPU backend: logits+activations max diff %.3g over %d values", maxAbsDiff(gv, cv), len(gv))

	var ablated map[string][]int
	if err := json.Unmarshal([]byte(ref.f.Metadata["ablated"]), &ablated); err != nil {
		t.Fatal(err)
	}
	var neurons []hooks.Neuron
	for ls, idx := range ablated {
		var l int
		fmt.Sscan(ls, &l)
		for _, i := range idx {
			neurons = append(neurons, hooks.Neuron{Layer: l, Index: i})
		}
	}
	for _, tc := range []struct {
		name       string
		gate, post hooks.Sign
	}{{"zero", 0, 0}, {"zero_gate-_post+", -1, 1}} {
		g.decode(t, hooks.Spec{Ablation: &hooks.Ablation{Neurons: neurons, Gate: tc.gate, Post: tc.post}}, ref.tokens)
		w := ref.floats(t, "ablate."+tc.name+".logits63")
		var d float64
		for s := range ref.tokens {
			d = math.Max(d, maxAbsDiff(g.ctx.Logits(s*L+63), w[s*ref.nv:(s+1)*ref.nv]))
		}
		t.Logf("GPU ablation %s: logits at 63 max diff %.3g (tol %g)", tc.name, d, tolLogits)
		if d > tolLogits {
			t.Errorf("GPU ablation %s: logits max diff %.3g > %g", tc.name, d, tolLogits)
		}
		checkMetrics(t, "GPU "+tc.name, g, ref, "ablate."+tc.name+".", true)
	}
}
