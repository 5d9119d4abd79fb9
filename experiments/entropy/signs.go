package entropy

import (
	"github.com/wcos-dev/wcos/experiments/classes"
	"github.com/wcos-dev/wcos/hooks"
)

// RefactorSigns returns s_n for each neuron (paper-spec §1.2, w_in centred), reading each layer once.
func RefactorSigns(modelPath string, neurons []hooks.Neuron) ([]int8, error) {
	var layers []int
	for _, n := range neurons {
		layers = append(layers, n.Layer)
	}
	byLayer, err := classes.RefactorSigns(modelPath, layers)
	if err != nil {
		return nil, err
	}
	signs := make([]int8, len(neurons))
	for i, n := range neurons {
		signs[i] = byLayer[n.Layer][n.Index]
	}
	return signs, nil
}
