package enginetest_test

import (
	"io"
	"path/filepath"
	"slices"
	"testing"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/dataset"
	"github.com/wcos-dev/wcos/internal/testmodels"
)

func TestMain(m *testing.M) { testmodels.Main(m) }

var _ dataset.Tokenizer = (*bindings.Model)(nil)

func rows(t *testing.T, path string, tok dataset.Tokenizer, opts dataset.Options) [][]int32 {
	t.Helper()
	r, err := dataset.Open(path, tok, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out [][]int32
	for {
		row, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, row.IDs)
	}
}

// TestRealTokenizerEvalText reads the shipped evaluation text with tiny-olmo's llama.cpp tokenizer
// (GPT-NeoX-20B, as OLMo-1) and checks that prefix tokenisation gives exactly the ids of tokenising
// each whole document and truncating, as HF truncation=True does.
func TestRealTokenizerEvalText(t *testing.T) {
	if testing.Short() {
		t.Skip("converts tiny-olmo")
	}
	m, err := bindings.LoadModel(testmodels.GGUF(t, testmodels.TinyDir(), "f32"), bindings.ModelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	path := filepath.Join(testmodels.Root(), "data", "eval", "sotu-moby-valid.jsonl")
	for _, maxLen := range []int{64, 1024, 4096} {
		opts := dataset.Options{MaxLength: maxLen}
		got := rows(t, path, m, opts)
		opts.FullTokenize = true
		want := rows(t, path, m, opts)
		if len(got) != 36 || len(want) != 36 {
			t.Fatalf("max %d: %d/%d rows, want 36", maxLen, len(got), len(want))
		}
		for i := range got {
			if !slices.Equal(got[i], want[i]) {
				t.Fatalf("max %d row %d: prefix tokenisation differs from full tokenisation", maxLen, i)
			}
			if got[i][0] != m.EOS() || len(got[i]) > maxLen {
				t.Fatalf("max %d row %d: starts with %d (EOS %d), length %d", maxLen, i, got[i][0], m.EOS(), len(got[i]))
			}
			for _, id := range got[i] {
				if id < 0 || int(id) >= m.VocabSize() {
					t.Fatalf("row %d: id %d outside vocab %d", i, id, m.VocabSize())
				}
			}
		}
	}
}
