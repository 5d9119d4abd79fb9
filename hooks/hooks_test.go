package hooks

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseNeurons(t *testing.T) {
	file := filepath.Join(t.TempDir(), "n.txt")
	os.WriteFile(file, []byte("# weakening\n31.2578\n\n 0.5 # inline\n31.2578\n"), 0o644)
	bad := filepath.Join(t.TempDir(), "bad.txt")
	os.WriteFile(bad, []byte("1.2\n1,3\n"), 0o644)
	cases := []struct {
		in, want, err string
	}{
		{"", "[]", ""},
		{"7.100,5.1,5.0", "[5.0 5.1 7.100]", ""},
		{"5.1,5.1", "[5.1]", ""},
		{"@" + file, "[0.5 31.2578]", ""},
		{"5", "", "bad neuron"},
		{"5.-1", "", "bad neuron"},
		{"a.b", "", "bad neuron"},
		{"@" + bad, "", bad + ":2"},
		{"@/nonexistent/x", "", "no such file"},
	}
	for _, c := range cases {
		got, err := ParseNeurons(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != c.want {
			t.Errorf("%q: %v %v, want %s", c.in, got, err, c.want)
		}
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		spec Spec
		err  string
	}{
		{Spec{Ablation: &Ablation{Neurons: []Neuron{{Layer: 7, Index: 687}}}}, ""},
		{Spec{Ablation: &Ablation{Neurons: []Neuron{{Layer: 8, Index: 0}}}}, "out of range"},
		{Spec{Ablation: &Ablation{Neurons: []Neuron{{Layer: 0, Index: 688}}}}, "out of range"},
		{Spec{Ablation: &Ablation{Neurons: []Neuron{{Layer: 0, Index: 1}}, Values: []float32{1, 2}}}, "2 values for 1 neurons"},
		{Spec{Capture: Capture{9: nil}}, "capture layer 9"},
		{Spec{Capture: Capture{1: {700}}}, "out of range"},
		{Spec{Ablation: &Ablation{Neurons: []Neuron{{Layer: 3, Index: 5}, {Layer: 5, Index: 3}, {Layer: 3, Index: 5}}}}, "3.5 listed twice"},
	}
	for i, c := range cases {
		err := c.spec.Validate(8, 688)
		if (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("case %d (%+v): error %v, want %q", i, c.spec, err, c.err)
		}
	}
}

func FuzzParseNeuron(f *testing.F) {
	for _, s := range []string{"31.2578", "0.0", "", ".", "1.", "-1.2", "9999999999999999999.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNeuron(s)
		if err == nil {
			if n.Layer < 0 || n.Index < 0 {
				t.Fatalf("%q parsed to negative %v", s, n)
			}
			back, err := ParseNeuron(n.String())
			if err != nil || back != n {
				t.Fatalf("%q → %v does not round-trip", s, n)
			}
		}
	})
}
