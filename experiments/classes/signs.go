package classes

import "fmt"

// RefactorSigns returns s_n = sign(w_gate·w_in) of TransformerLens-processed weights (OLMo: w_in
// centred along d_model; RMSNorm models: the norm's weight folded in; 0 → +1) for every neuron of the given layers of a model (GGUF or HF directory): the
// signs the hooks use for refactored post conditions and activation quadrants (spec §1.2–1.3).
func RefactorSigns(modelPath string, layers []int) (map[int][]int8, error) {
	src, err := Open(modelPath)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	if err := src.Dims().CheckProcessing(modelPath, TL, "refactor signs need it: use --refactor=false (raw signs)"); err != nil {
		return nil, err
	}
	out := make(map[int][]int8, len(layers))
	for _, l := range layers {
		if _, done := out[l]; done {
			continue
		}
		w, err := src.Layer(l)
		if err != nil {
			return nil, err
		}
		stats, err := LayerStats(w, TL)
		if err != nil {
			return nil, fmt.Errorf("%s: layer %d: %v", modelPath, l, err)
		}
		s := make([]int8, len(stats))
		for i, st := range stats {
			s[i] = st.Sign
		}
		out[l] = s
	}
	return out, nil
}
