package hf

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wcos-dev/wcos/internal/torchfixture"
)

// minGPTArchive is torchpt's test archive, written by torch 1.13.
var minGPTArchive = torchfixture.Path("mingpt.pth")

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPytorchModelBin: a checkpoint with pytorch_model.bin instead of safetensors (alone, or named by
// pytorch_model.bin.index.json) gives torch's own values and shapes; OpenFile reads the archive alone.
// An index naming a tensor the shard lacks is refused.
func TestPytorchModelBin(t *testing.T) {
	want := torchfixture.Values(t, "mingpt.json")
	plain, indexed := t.TempDir(), t.TempDir()
	for _, dir := range []string{plain, indexed} {
		copyFile(t, minGPTArchive, filepath.Join(dir, "pytorch_model.bin"))
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"model_type": "mingpt"}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wm := map[string]string{}
	for name := range want {
		wm[name] = "pytorch_model.bin"
	}
	idx, _ := json.Marshal(map[string]any{"weight_map": wm})
	if err := os.WriteFile(filepath.Join(indexed, "pytorch_model.bin.index.json"), idx, 0o644); err != nil {
		t.Fatal(err)
	}
	open := map[string]func() (*Checkpoint, error){
		"dir":     func() (*Checkpoint, error) { return Open(plain) },
		"indexed": func() (*Checkpoint, error) { return Open(indexed) },
		"file":    func() (*Checkpoint, error) { return OpenFile(minGPTArchive) },
	}
	for name, f := range open {
		ck, err := f()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := len(ck.Names()); got != len(want) {
			t.Errorf("%s: %d tensors, want %d", name, got, len(want))
		}
		for tn, w := range want {
			v, shape, err := ck.Float32(tn)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got := make([]float64, len(v))
			for i, x := range v {
				got[i] = float64(x)
			}
			if !slices.Equal(shape, w.Shape) || !slices.Equal(got, w.Values) {
				t.Fatalf("%s: %s: shape %v values %v, want %v %v", name, tn, shape, got[:min(3, len(got))], w.Shape, w.Values[:min(3, len(w.Values))])
			}
		}
		ck.Close()
	}
	// torch.save's legacy format (before torch 1.6), read alone.
	legacy, err := OpenFile(torchfixture.Path("legacy.pth"))
	if err != nil {
		t.Fatal(err)
	}
	if v, shape, err := legacy.Float32("w_t"); err != nil || !slices.Equal(shape, []int64{5, 3}) || len(v) != 15 {
		t.Errorf("legacy w_t: %v %v %v", v, shape, err)
	}
	legacy.Close()

	wm["blocks.9.mlp.0.weight"] = "pytorch_model.bin"
	idx, _ = json.Marshal(map[string]any{"weight_map": wm})
	if err := os.WriteFile(filepath.Join(indexed, "pytorch_model.bin.index.json"), idx, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(indexed); err == nil || !strings.Contains(err.Error(), "blocks.9.mlp.0.weight") {
		t.Errorf("index naming a missing tensor: error %v", err)
	}
}
