package models

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wcos-dev/wcos/convert"
)

// Resolve turns a --model value into a GGUF file: "" is the embedded model converted to typ; a
// directory is a Hugging Face checkpoint converted to typ into the cache (keyed by its path, file
// sizes and times, so an edited checkpoint is converted again); a file is used as is.
func Resolve(spec, typ string) (string, error) {
	if spec == "" {
		return DefaultGGUF(typ)
	}
	st, err := os.Stat(spec)
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		return spec, nil
	}
	abs, _ := filepath.Abs(spec)
	h := sha256.New()
	fmt.Fprintln(h, abs, typ)
	ents, err := os.ReadDir(spec)
	if err != nil {
		return "", err
	}
	for _, e := range ents {
		if fi, err := e.Info(); err == nil {
			fmt.Fprintln(h, e.Name(), fi.Size(), fi.ModTime().UnixNano())
		}
	}
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	out := filepath.Join(cache, fmt.Sprintf("%s-%s-%s.gguf", filepath.Base(abs), hex.EncodeToString(h.Sum(nil))[:12], typ))
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if _, err := convert.Convert(spec, out, convert.Options{Type: typ}); err != nil {
		return "", err
	}
	return out, nil
}
