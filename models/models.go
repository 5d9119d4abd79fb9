package models

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/wcos-dev/wcos/convert"
)

//go:embed tiny-olmo
var tiny embed.FS

// DefaultName names the embedded model in outputs.
const DefaultName = "tiny-olmo"

var (
	hashOnce sync.Once
	hash     string
)

// Hash is a short content hash of the embedded checkpoint; it keys the cache.
func Hash() string {
	hashOnce.Do(func() {
		h := sha256.New()
		fs.WalkDir(tiny, "tiny-olmo", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := tiny.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s %d\n", p, len(b))
			h.Write(b)
			return nil
		})
		hash = hex.EncodeToString(h.Sum(nil))[:12]
	})
	return hash
}

// CacheDir is $WCOS_CACHE, else the user cache directory's wcos folder.
func CacheDir() (string, error) {
	if d := os.Getenv("WCOS_CACHE"); d != "" {
		return d, os.MkdirAll(d, 0o755)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	d := filepath.Join(base, "wcos")
	return d, os.MkdirAll(d, 0o755)
}

var mu sync.Mutex

// DefaultHFDir extracts the embedded checkpoint (once) and returns its directory.
func DefaultHFDir() (string, error) {
	mu.Lock()
	defer mu.Unlock()
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, DefaultName+"-"+Hash())
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(cache, ".extract-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	err = fs.WalkDir(tiny, "tiny-olmo", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := tiny.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(tmp, filepath.Base(p)), b, 0o644)
	})
	if err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, "config.json")); serr == nil {
			return dir, nil // another process won the race
		}
		return "", err
	}
	return dir, nil
}

// DefaultGGUF returns the embedded model converted to GGUF of the given type (f32, f16, bf16, q8_0,
// q4_k_m), converting on first use. log receives the converter's messages (nil: discarded).
func DefaultGGUF(typ string) (string, error) {
	dir, err := DefaultHFDir()
	if err != nil {
		return "", err
	}
	cache := filepath.Dir(dir)
	out := filepath.Join(cache, fmt.Sprintf("%s-%s-%s.gguf", DefaultName, Hash(), typ))
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if _, err := convert.Convert(dir, out, convert.Options{Type: typ}); err != nil {
		return "", fmt.Errorf("converting the embedded model: %w", err)
	}
	return out, nil
}
