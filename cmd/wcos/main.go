// Command wcos measures the read-write functionality of gated MLP neurons in OLMo models: RW classes
// from weights, activation frequencies, and ablation effects on next-token entropy, loss and rank.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/dataset"
	"github.com/wcos-dev/wcos/internal/runinfo"
)

func main() {
	if err := newApp().Run(os.Args); err != nil {
		// One line: the error already names the file and the problem.
		fmt.Fprintln(os.Stderr, "wcos:", oneLine(err))
		os.Exit(1)
	}
}

// oneLine is how main prints an error.
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }

// newApp builds the command-line application; tests run it in-process.
func newApp() *cli.App {
	return &cli.App{
		Name:    "wcos",
		Usage:   "read-write functionality of gated MLP neurons (\"Weakening Neurons\") on llama.cpp",
		Version: runinfo.Version,
		Description: `wcos classifies every SwiGLU neuron of an OLMo model by the cosines of its gate, in and out
weights, measures how often each class activates, and ablates classes (also only where the gate or
the activation has a given sign) to measure next-token entropy, loss and rank.

With no --model, commands use the embedded tiny-olmo (19.2M parameters); with no --dataset, the
embedded evaluation text. Run 'wcos COMMAND --help' for each command's options and examples.`,
		Commands: []*cli.Command{
			entropyCommand(),
			compareCommand(),
			attributesCommand(),
			knownsCommand(),
			wikiCommand(),
			generateCommand(),
			classesCommand(),
			mediansCommand(),
			neuronsCommand(),
			freqsCommand(),
			mergeCommand(),
			convertCommand(),
			datasetCommand(newTokenizer),
			infoCommand(),
			synthCommand(),
		},
		DefaultCommand: "entropy",
	}
}

// newTokenizer loads a model's tokenizer for commands that only tokenise.
func newTokenizer(modelPath string) (dataset.Tokenizer, func(), error) {
	path, err := resolveModel(modelPath, "f32")
	if err != nil {
		return nil, nil, err
	}
	m, err := bindings.LoadModel(path, bindings.ModelOptions{})
	if err != nil {
		return nil, nil, err
	}
	return m, m.Close, nil
}

func infoCommand() *cli.Command {
	return &cli.Command{
		Name:  "info",
		Usage: "print the model's shape and the engine's build (SIMD features)",
		Flags: []cli.Flag{&cli.StringFlag{Name: "model", Usage: "GGUF file or Hugging Face directory (default: embedded tiny-olmo)"}},
		Action: func(c *cli.Context) error {
			path, err := resolveModel(c.String("model"), "f32")
			if err != nil {
				return err
			}
			m, err := bindings.LoadModel(path, bindings.ModelOptions{})
			if err != nil {
				return err
			}
			defer m.Close()
			fmt.Printf("model     %s\n          %s, %d parameters\n", path, m.Desc(), m.NParams())
			fmt.Printf("shape     %d layers, d_model %d, d_mlp %d, vocab %d, bos %d, eos %d\n", m.NLayer(), m.NEmbd(), m.NFF(), m.VocabSize(), m.BOS(), m.EOS())
			norm := "layernorm"
			if m.RMSNorm() {
				norm = "rmsnorm"
			}
			fmt.Printf("norms     %s, eps %g\n", norm, m.NormEps())
			fmt.Printf("engine    %s\n", bindings.SystemInfo())
			return nil
		},
	}
}
