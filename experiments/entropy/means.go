package entropy

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/wcos-dev/wcos/hooks"
)

// summaryMeans takes each neuron's mean of post from a freqs summary over the quadrants the gate/post
// condition selects (paper-spec §4.3). The summary must come from the same model, and when a post
// condition is given its sign convention (refactored or raw) must be the run's.
func summaryMeans(cfg Config) ([]float32, error) {
	s := cfg.Summary
	if sha := s.Meta["model_sha256"]; cfg.ModelSHA256 != "" && sha != cfg.ModelSHA256 {
		return nil, fmt.Errorf("--means %s: summary of model %s (sha256 %.12s…), not of %s", s.Path, s.Meta["model"], sha, cfg.Model)
	}
	if cfg.Post != 0 && s.Meta["refactor"] != strconv.FormatBool(cfg.Refactor) {
		return nil, fmt.Errorf("--means: summary computed with refactor=%s, run with --refactor=%v", s.Meta["refactor"], cfg.Refactor)
	}
	layers, idx := make([]int, len(cfg.Neurons)), make([]int, len(cfg.Neurons))
	for i, n := range cfg.Neurons {
		if n.Layer >= s.NLayer || n.Index >= s.NFF {
			return nil, fmt.Errorf("--means: neuron %s outside the summary's %d×%d", n, s.NLayer, s.NFF)
		}
		layers[i], idx[i] = n.Layer, n.Index
	}
	return s.MeanValues(layers, idx, int(cfg.Gate), int(cfg.Post))
}

// ReadMeans reads per-neuron values for mean ablation: a JSON object {"L.N": value, …} or a CSV of
// `L.N,value` rows (a header row is allowed).
func ReadMeans(path string) (map[hooks.Neuron]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[hooks.Neuron]float32{}
	if s := strings.TrimSpace(string(b)); strings.HasPrefix(s, "{") {
		var m map[string]float64
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		for k, v := range m {
			n, err := hooks.ParseNeuron(k)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", path, err)
			}
			out[n] = float32(v)
		}
		return out, nil
	}
	r := csv.NewReader(strings.NewReader(string(b)))
	r.FieldsPerRecord = 2
	r.TrimLeadingSpace = true
	for line := 1; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		n, err := hooks.ParseNeuron(rec[0])
		v, verr := strconv.ParseFloat(strings.TrimSpace(rec[1]), 32)
		if err != nil || verr != nil {
			if line == 1 {
				continue // header
			}
			return nil, fmt.Errorf("%s:%d: want L.N,value, got %q", path, line, strings.Join(rec, ","))
		}
		out[n] = float32(v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no L.N,value rows", path)
	}
	return out, nil
}
