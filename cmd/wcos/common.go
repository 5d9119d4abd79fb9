package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/wcos-dev/wcos/data"
	"github.com/wcos-dev/wcos/models"
)

// resolveModel maps --model to a GGUF file (embedded default, HF directory converted on first use, or
// a GGUF file).
func resolveModel(spec, typ string) (string, error) {
	return models.Resolve(spec, typ)
}

// resolveDataset maps --dataset to a file: empty means the embedded evaluation text.
func resolveDataset(spec string) (string, error) {
	if spec != "" {
		if _, err := os.Stat(spec); err != nil {
			return "", err
		}
		return spec, nil
	}
	cache, err := models.CacheDir()
	if err != nil {
		return "", err
	}
	return data.Extract(cache, "eval/"+data.EvalName)
}

// freshOut returns --out, or a new folder out/<command>-<time> when it is empty.
func freshOut(spec, command string) (string, error) {
	if spec != "" {
		return spec, nil
	}
	dir := filepath.Join("out", fmt.Sprintf("%s-%s", command, time.Now().Format("20060102-150405")))
	if err := os.MkdirAll("out", 0o755); err != nil {
		return "", err
	}
	return dir, nil
}
