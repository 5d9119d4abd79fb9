package entropy

import (
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/weights"
)

// RefactorSigns returns s_n for each neuron (paper-spec §1.2, w_in centred), reading each layer once.
func RefactorSigns(modelPath string, neurons []hooks.Neuron) ([]int8, error) {
	layers := map[int][]int8{}
	signs := make([]int8, len(neurons))
	for i, n := range neurons {
		s, ok := layers[n.Layer]
		if !ok {
			var err error
			if s, err = weights.RefactorSigns(modelPath, n.Layer); err != nil {
				return nil, err
			}
			layers[n.Layer] = s
		}
		signs[i] = s[n.Index]
	}
	return signs, nil
}
