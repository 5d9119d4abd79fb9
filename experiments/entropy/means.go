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
