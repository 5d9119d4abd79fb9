package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/wcos-dev/wcos/data"
	"github.com/wcos-dev/wcos/internal/runinfo"
	"github.com/wcos-dev/wcos/models"
)

// resolveModel maps --model to a GGUF file (embedded default, HF directory converted on first use, or
// a GGUF file).
func resolveModel(spec, typ string) (string, error) {
	return models.Resolve(spec, typ)
}

// resolveDataset maps --dataset to a file: empty means the embedded evaluation text.
func resolveDataset(spec string) (string, error) {
	return embeddedOr(spec, "eval/"+data.EvalName)
}

// embeddedOr returns path if given (it must exist), else the embedded data file name extracted into
// the cache.
func embeddedOr(path, name string) (string, error) {
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return "", err
		}
		return path, nil
	}
	cache, err := models.CacheDir()
	if err != nil {
		return "", err
	}
	return data.Extract(cache, name)
}

// freshOut returns --out, or a new folder out/<command>-<time> when it is empty. A run replaces its
// --out folder as a whole, so --out may not hold an input of the command: a file or folder named by
// another flag (@FILE included) or an argument.
func freshOut(c *cli.Context, command string) (string, error) {
	if spec := c.String("out"); spec != "" {
		return spec, outHoldsNoInput(c, spec)
	}
	dir := filepath.Join("out", fmt.Sprintf("%s-%s", command, time.Now().Format("20060102-150405")))
	if err := os.MkdirAll("out", 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

func outHoldsNoInput(c *cli.Context, out string) error {
	dir, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		dir = d
	}
	inputs := c.Args().Slice()
	for _, name := range c.LocalFlagNames() {
		if name != "out" {
			inputs = append(inputs, strings.TrimPrefix(c.String(name), "@"))
		}
	}
	for _, in := range inputs {
		if in == "" {
			continue
		}
		p, err := filepath.Abs(in)
		if err != nil {
			continue
		}
		if q, err := filepath.EvalSymlinks(p); err == nil {
			p = q
		} else {
			continue // not an existing file or folder
		}
		if rel, err := filepath.Rel(dir, p); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return fmt.Errorf("--out %s holds the input %s, and a run replaces its --out folder as a whole: choose another --out", out, in)
		}
	}
	return nil
}

// runInputs are the resolved --model (a GGUF file and its SHA-256), --dataset and --out of an
// experiment command, and its run.json in the making.
type runInputs struct {
	model, modelSHA256, dataset, out string
	info                             *runinfo.Info
}

// resolveInputs resolves the inputs shared by the experiment commands and records them, with
// options, in a new run.json.
func resolveInputs(c *cli.Context, command string, options map[string]any) (*runInputs, error) {
	var in runInputs
	var err error
	if in.model, err = resolveModel(c.String("model"), c.String("type")); err != nil {
		return nil, err
	}
	if in.dataset, err = resolveDataset(c.String("dataset")); err != nil {
		return nil, err
	}
	if in.out, err = freshOut(c, command); err != nil {
		return nil, err
	}
	options["model"], options["dataset"], options["out"] = in.model, in.dataset, in.out
	in.info = runinfo.New(command, options)
	if in.modelSHA256, err = in.info.SetModel(in.model); err != nil {
		return nil, err
	}
	if err := in.info.AddInputs(in.dataset); err != nil {
		return nil, err
	}
	return &in, nil
}
