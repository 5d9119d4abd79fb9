package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/wcos-dev/wcos/experiments/entropy"
	"github.com/wcos-dev/wcos/experiments/freqs"
	"github.com/wcos-dev/wcos/hooks"
)

// ablationFlags are the options of an ablation, shared by entropy and attributes: the neuron set
// (described by neuronsUsage), zero or mean values, and the gate/post conditions.
func ablationFlags(neuronsUsage string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "neurons", Usage: neuronsUsage},
		&cli.StringFlag{Name: "n-neurons", Usage: "with a class in --neurons: a random subset of N neurons, of a fraction F in (0, 1] of the class, or as many as class CLASS has (paper-spec §3)"},
		&cli.StringFlag{Name: "ablation", Value: "zero", Usage: "zero or mean"},
		&cli.StringFlag{Name: "means", Usage: "values for --ablation mean: a freqs summary.safetensors (conditional means, §4.3), JSON {\"L.N\": v} or CSV L.N,value"},
		&cli.StringFlag{Name: "gate", Usage: "ablate only where the gate pre-activation is + or -"},
		&cli.StringFlag{Name: "post", Usage: "ablate only where the (refactored) activation is + or -"},
		&cli.BoolFlag{Name: "refactor", Value: true, Usage: "post condition on s_n·post, s_n = sign(w_gate·w_in centred) (paper); false: raw sign"},
	}
}

// ablationValues are the parsed --gate, --post and --means.
type ablationValues struct {
	gate, post hooks.Sign
	summary    *freqs.Summary           // --means as a freqs summary (conditional means), or
	means      map[hooks.Neuron]float32 // explicit values
}

func parseAblationValues(c *cli.Context) (*ablationValues, error) {
	var a ablationValues
	var err error
	if a.gate, err = hooks.ParseSign(c.String("gate")); err != nil {
		return nil, fmt.Errorf("--gate: %v", err)
	}
	if a.post, err = hooks.ParseSign(c.String("post")); err != nil {
		return nil, fmt.Errorf("--post: %v", err)
	}
	p := c.String("means")
	if p == "" {
		return &a, nil
	}
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		p = filepath.Join(p, "summary.safetensors")
	}
	if strings.HasSuffix(p, ".safetensors") {
		a.summary, err = freqs.Read(p)
	} else {
		a.means, err = entropy.ReadMeans(p)
	}
	if err != nil {
		return nil, err
	}
	return &a, nil
}
