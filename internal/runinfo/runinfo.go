// Package runinfo writes run.json: every input of a run (arguments, model file and its hash, versions,
// machine, times), so that a result can be traced and repeated.
package runinfo

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/wcos-dev/wcos/internal/atomicfile"
)

// Version is wcos's version.
const Version = "0.1.0"

// Info is the content of run.json.
type Info struct {
	Command  string            `json:"command"`
	Args     []string          `json:"args"`
	Options  map[string]any    `json:"options"`
	Model    *FileInfo         `json:"model,omitempty"`
	Inputs   []FileInfo        `json:"inputs,omitempty"`
	Versions map[string]string `json:"versions"`
	Machine  map[string]any    `json:"machine"`
	Started  time.Time         `json:"started"`
	Finished time.Time         `json:"finished"`
	Seconds  float64           `json:"seconds"`
	// TokensPerSecond is a timing too: this process's rate (a resumed run's is that of its last part).
	TokensPerSecond float64 `json:"tokens_per_second,omitempty"`
}

// FileInfo identifies an input file.
type FileInfo struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// New starts an Info for command with the process arguments.
func New(command string, options map[string]any) *Info {
	host, _ := os.Hostname()
	return &Info{
		Command: command, Args: os.Args, Options: options, Versions: Versions(), Started: time.Now().UTC(),
		Machine: map[string]any{"host": host, "os": runtime.GOOS, "arch": runtime.GOARCH, "cpus": runtime.NumCPU()},
	}
}

// Versions lists wcos, Go and the engine module versions.
func Versions() map[string]string {
	v := map[string]string{"wcos": Version, "go": runtime.Version(), "llama.cpp": "ec98e2002 (vendored by ollama)"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/ollama/ollama" {
				v["ollama"] = d.Version
			}
		}
	}
	return v
}

// Hash describes a file with its SHA-256 (directories: the hash of their sorted files' hashes).
func Hash(path string) (FileInfo, error) {
	abs, _ := filepath.Abs(path)
	st, err := os.Stat(path)
	if err != nil {
		return FileInfo{}, err
	}
	h := sha256.New()
	var size int64
	if st.IsDir() {
		ents, err := os.ReadDir(path)
		if err != nil {
			return FileInfo{}, err
		}
		for _, e := range ents {
			if e.IsDir() {
				continue
			}
			fi, err := Hash(filepath.Join(path, e.Name()))
			if err != nil {
				return FileInfo{}, err
			}
			io.WriteString(h, e.Name()+" "+fi.SHA256+"\n")
			size += fi.Size
		}
	} else {
		f, err := os.Open(path)
		if err != nil {
			return FileInfo{}, err
		}
		defer f.Close()
		if size, err = io.Copy(h, f); err != nil {
			return FileInfo{}, err
		}
	}
	return FileInfo{Path: abs, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// SetModel hashes the model file into Model and returns its SHA-256.
func (i *Info) SetModel(path string) (string, error) {
	fi, err := Hash(path)
	if err != nil {
		return "", err
	}
	i.Model = &fi
	return fi.SHA256, nil
}

// AddInputs hashes each named file into Inputs; "" and folders (a data set directory) are skipped.
func (i *Info) AddInputs(paths ...string) error {
	for _, p := range paths {
		if st, err := os.Stat(p); p == "" || err == nil && st.IsDir() {
			continue
		}
		fi, err := Hash(p)
		if err != nil {
			return err
		}
		i.Inputs = append(i.Inputs, fi)
	}
	return nil
}

// Write finishes the Info and writes dir/run.json atomically; a nil Info writes nothing.
func (i *Info) Write(dir string) error {
	if i == nil {
		return nil
	}
	i.Finished = time.Now().UTC()
	i.Seconds = i.Finished.Sub(i.Started).Seconds()
	b, err := json.MarshalIndent(i, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "run.json"), append(b, '\n'))
}
