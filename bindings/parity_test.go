package bindings_test

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/internal/testmodels"
	"github.com/wcos-dev/wcos/safetensors"
)

// Helpers shared by the static and the wcos_dynamic builds' backend tests (dynamic_test.go). A test
// binary copied to another machine (scripts/gpu-check.sh) cannot use the source paths testmodels
// derives, so WCOS_TINY_GGUF (tiny-olmo converted to F32) and WCOS_FIXTURES (testdata/fixtures)
// override them.

func tinyF32(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("WCOS_TINY_GGUF"); p != "" {
		return p
	}
	return testmodels.GGUF(t, testmodels.TinyDir(), "f32")
}

func fixturePath(name string) string {
	if d := os.Getenv("WCOS_FIXTURES"); d != "" {
		return filepath.Join(d, name)
	}
	return testmodels.Fixture(name)
}

func openReference(t *testing.T, name string) *reference {
	t.Helper()
	f, err := safetensors.Open(fixturePath(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	r := &reference{f: f, nv: int(f.Tensors["logits"].Shape[2])}
	toks := r.ints(t, "tokens")
	sh := f.Tensors["tokens"].Shape
	for i := 0; i < int(sh[0]); i++ {
		r.tokens = append(r.tokens, toks[i*int(sh[1]):(i+1)*int(sh[1])])
	}
	r.pos = r.ints(t, "logits_pos")
	return r
}

// parityRun decodes the tiny-olmo reference tokens (4×64) in exact mode with every layer captured,
// with gpuLayers offloaded, and returns the run for further decodes.
func parityRun(t *testing.T, ref *reference, gpuLayers int) *run {
	t.Helper()
	m, err := bindings.LoadModel(tinyF32(t), bindings.ModelOptions{GPULayers: gpuLayers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	L := len(ref.tokens[0])
	ctx, err := m.NewContext(bindings.ContextOptions{MaxTokens: len(ref.tokens) * L, MaxRows: len(ref.tokens), Exact: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ctx.Close)
	r := &run{ctx: ctx, m: m, rowLn: L}
	all := hooks.Capture{}
	for l := 0; l < m.NLayer(); l++ {
		all[l] = nil
	}
	r.decode(t, hooks.Spec{Capture: all}, ref.tokens)
	return r
}

// parityVector is every logit of the last decode followed by the captured gate, up and post of every
// layer: what must be bit-identical between two builds running the same CPU code.
func parityVector(r *run, nTok int) []float32 {
	var out []float32
	for i := 0; i < nTok; i++ {
		out = append(out, r.ctx.Logits(i)...)
	}
	for l := 0; l < r.m.NLayer(); l++ {
		for _, k := range []bindings.Kind{bindings.Gate, bindings.Up, bindings.Post} {
			out = append(out, r.ctx.Captured(l, k, r.m.NFF())...)
		}
	}
	return out
}

// TestParityDump writes this build's parity vector to $WCOS_PARITY_OUT; dynamic_test.go runs it in the
// static build and compares.
func TestParityDump(t *testing.T) {
	out := os.Getenv("WCOS_PARITY_OUT")
	if out == "" {
		t.Skip("WCOS_PARITY_OUT not set (run by TestDynamicMatchesStatic)")
	}
	ref := openReference(t, "tiny-olmo-reference.safetensors")
	r := parityRun(t, ref, 0)
	v := parityVector(r, len(ref.tokens)*r.rowLn)
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("static=%v: wrote %d values to %s", !bindings.Dynamic, len(v), out)
}
