package entropy

import (
	"fmt"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/hooks"
)

// RefactorSigns returns s_n = sign(w_gate·w_in_centred) for each neuron (0 → +1), the refactoring of
// paper-spec §1.2 with w_in centred along d_model as in TransformerLens-processed weights (§1.3).
func RefactorSigns(modelPath string, neurons []hooks.Neuron) ([]int8, error) {
	byLayer := map[int]bool{}
	var names []string
	for _, n := range neurons {
		if !byLayer[n.Layer] {
			byLayer[n.Layer] = true
			names = append(names, fmt.Sprintf("blk.%d.ffn_gate.weight", n.Layer), fmt.Sprintf("blk.%d.ffn_up.weight", n.Layer))
		}
	}
	w, shapes, err := bindings.ReadGGUFTensors(modelPath, names)
	if err != nil {
		return nil, err
	}
	signs := make([]int8, len(neurons))
	for i, n := range neurons {
		gate := w[fmt.Sprintf("blk.%d.ffn_gate.weight", n.Layer)]
		up := w[fmt.Sprintf("blk.%d.ffn_up.weight", n.Layer)]
		d := int(shapes[fmt.Sprintf("blk.%d.ffn_gate.weight", n.Layer)][1])
		signs[i] = refactorSign(gate[n.Index*d:(n.Index+1)*d], up[n.Index*d:(n.Index+1)*d])
	}
	return signs, nil
}

func refactorSign(gate, in []float32) int8 {
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
