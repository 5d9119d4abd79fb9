package weights

import (
	"fmt"

	"github.com/wcos-dev/wcos/bindings"
)

// Sign is s_n = sign(w_gate·(w_in − mean(w_in))), 0 → +1: the refactoring of paper-spec §1.2 with
// w_in centred along d_model as in TransformerLens-processed weights (§1.3), which the paper used.
func Sign(gate, in []float32) int8 {
	var mean float64
	for _, x := range in {
		mean += float64(x)
	}
	mean /= float64(len(in))
	var dot float64
	for j := range gate {
		dot += float64(gate[j]) * (float64(in[j]) - mean)
	}
	if dot < 0 {
		return -1
	}
	return 1
}

// RefactorSigns reads layer's ffn_gate and ffn_up from a GGUF file (any type ggml dequantises) and
// returns s_n for every neuron.
func RefactorSigns(modelPath string, layer int) ([]int8, error) {
	g, u := fmt.Sprintf("blk.%d.ffn_gate.weight", layer), fmt.Sprintf("blk.%d.ffn_up.weight", layer)
	w, shapes, err := bindings.ReadGGUFTensors(modelPath, []string{g, u})
	if err != nil {
		return nil, err
	}
	sh := shapes[g]
	if len(sh) != 2 || fmt.Sprint(sh) != fmt.Sprint(shapes[u]) {
		return nil, fmt.Errorf("%s: %s %v and %s %v do not match", modelPath, g, sh, u, shapes[u])
	}
	nff, d := int(sh[0]), int(sh[1])
	out := make([]int8, nff)
	for n := range out {
		out[n] = Sign(w[g][n*d:(n+1)*d], w[u][n*d:(n+1)*d])
	}
	return out, nil
}
