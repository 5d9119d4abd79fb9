package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"time"

	"github.com/wcos-dev/wcos/internal/runinfo"
)

// BuildOptions configure Build.
type BuildOptions struct {
	Options
	Tokenizer TokenizerInfo // provenance recorded in meta.json
	Version   string        // wcos version; empty: from the binary's build info
	Overwrite bool          // replace an existing output directory (only once the new one is complete)
	// Progress, when set, is called after every row and once at the end (Done); it should rate-limit itself.
	Progress func(Progress)
}

// Progress is a snapshot of a running Build.
type Progress struct {
	Source  string
	Rows    int
	Tokens  int64
	Elapsed time.Duration
	Done    bool
}

// Build reads sources in order into a new token dataset at out. MaxTokens is a budget over all
// sources together. On any error (a bad row, cancellation) nothing is left at out.
func Build(ctx context.Context, out string, sources []string, tok Tokenizer, opts BuildOptions) (Meta, error) {
	if len(sources) == 0 {
		return Meta{}, fmt.Errorf("no sources")
	}
	infos := make([]SourceInfo, len(sources))
	for i, src := range sources {
		kind, err := DetectKind(src)
		if err != nil {
			return Meta{}, err
		}
		infos[i] = SourceInfo{Path: src, Kind: kind}
	}
	w, err := Create(out, opts.Overwrite)
	if err != nil {
		return Meta{}, err
	}
	defer w.Abort()

	// Hash the sources on the other core while the tokenizer works on this one.
	hashCtx, cancelHash := context.WithCancel(ctx)
	defer cancelHash()
	type hashed struct {
		files [][]FileInfo
		err   error
	}
	hashDone := make(chan hashed, 1)
	toHash := slices.Clone(infos) // the loop below updates infos while this runs
	go func() {
		var h hashed
		for _, s := range toHash {
			fi, err := hashSource(hashCtx, s.Path, s.Kind)
			if err != nil {
				h.err = err
				break
			}
			h.files = append(h.files, fi)
		}
		hashDone <- h
	}()

	start := time.Now()
	ropts := opts.Options
	budgetReached := false
	for i := range infos {
		if opts.MaxTokens > 0 && w.Tokens() >= opts.MaxTokens {
			budgetReached = true
			break
		}
		if opts.MaxTokens > 0 {
			ropts.MaxTokens = opts.MaxTokens - w.Tokens()
		}
		r, err := Open(infos[i].Path, tok, ropts)
		if err != nil {
			return Meta{}, err
		}
		rows0, tokens0 := w.Rows(), w.Tokens()
		for {
			if err := ctx.Err(); err != nil {
				r.Close()
				return Meta{}, err
			}
			row, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				r.Close()
				return Meta{}, err
			}
			if err := w.Append(row.IDs); err != nil {
				r.Close()
				return Meta{}, fmt.Errorf("%s: %w", out, err)
			}
			if opts.Progress != nil {
				opts.Progress(Progress{Source: infos[i].Path, Rows: w.Rows(), Tokens: w.Tokens(), Elapsed: time.Since(start)})
			}
		}
		r.Close()
		infos[i].Rows, infos[i].Tokens = w.Rows()-rows0, w.Tokens()-tokens0
		// The reader stops at the budget without looking further, so a budget met exactly at a source's
		// last row marks it incomplete too (conservative: re-running from it gives the same rows).
		infos[i].Complete = opts.MaxTokens <= 0 || w.Tokens() < opts.MaxTokens
		if !infos[i].Complete {
			budgetReached = true
		}
	}
	h := <-hashDone
	if h.err != nil {
		return Meta{}, h.err
	}
	for i := range infos {
		infos[i].Files = h.files[i]
	}
	meta := Meta{
		MaxLength:     opts.maxLength(),
		MaxTokens:     opts.MaxTokens,
		VocabSize:     opts.VocabSize,
		Field:         opts.Field,
		TruncateIDs:   opts.TruncateIDs,
		Tokenizer:     opts.Tokenizer,
		Sources:       infos,
		BudgetReached: budgetReached,
		WcosVersion:   opts.Version,
	}
	if meta.MaxLength < 0 {
		meta.MaxLength = -1
	}
	if tok != nil {
		eos, bos := tok.EOS(), tok.BOS()
		meta.EOSID, meta.VocabSize = &eos, tok.VocabSize()
		if !opts.NoBOS {
			meta.BOSID = &bos
		}
	}
	if meta.WcosVersion == "" {
		meta.WcosVersion = buildVersion()
	}
	meta, err = w.Commit(meta)
	if err != nil {
		return meta, err
	}
	if opts.Progress != nil {
		opts.Progress(Progress{Rows: meta.NRows, Tokens: meta.NTokens, Elapsed: time.Since(start), Done: true})
	}
	return meta, nil
}

// hashSource hashes the files that make up a source, in reading order.
func hashSource(ctx context.Context, path string, kind Kind) ([]FileInfo, error) {
	var files []string
	switch kind {
	case KindHF:
		data, err := hfDataFiles(path)
		if err != nil {
			return nil, err
		}
		for _, m := range []string{"dataset_info.json", "state.json"} {
			if p := filepath.Join(path, m); exists(p) {
				files = append(files, p)
			}
		}
		files = append(files, data...)
	case KindTokens:
		for _, m := range []string{metaName, tokensName, offsetsName} {
			files = append(files, filepath.Join(path, m))
		}
	case KindTextDir:
		err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(files)
	default:
		files = []string{path}
	}
	var out []FileInfo
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sum, n, err := hashFileCtx(ctx, f)
		if err != nil {
			return nil, err
		}
		name, err := filepath.Rel(path, f)
		if err != nil || name == "." {
			name = filepath.Base(f)
		}
		out = append(out, FileInfo{Name: name, Size: n, SHA256: sum})
	}
	return out, nil
}

// buildVersion is wcos's version and, when the binary carries it, the VCS revision.
func buildVersion() string {
	v := runinfo.Version
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			v += " " + s.Value
		}
		if s.Key == "vcs.modified" && s.Value == "true" {
			v += "+dirty"
		}
	}
	return v
}

// fingerprintProbe exercises what differs between tokenizers: words, digits, code, whitespace runs,
// non-Latin scripts and a special-token spelling (which Tokenize must not parse).
const fingerprintProbe = "The year 1825 saw 3.14159 ducks.\n\n\tdef f(x):  return x**2 # café naïve 東京 Привет 🙂 <|endoftext|>"

// Fingerprint identifies a tokenizer by its behaviour (vocab size, EOS and the ids of a probe text),
// so a data set can be checked against the model an experiment loads without hashing a 14 GB file.
func Fingerprint(tok Tokenizer) (string, error) {
	ids, err := tok.Tokenize(fingerprintProbe)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	b := binary.LittleEndian.AppendUint64(nil, uint64(tok.VocabSize()))
	b = binary.LittleEndian.AppendUint32(b, uint32(tok.EOS()))
	for _, id := range ids {
		b = binary.LittleEndian.AppendUint32(b, uint32(id))
	}
	h.Write(b)
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// FileSHA256 hashes a file (e.g. the model, for TokenizerInfo.ModelSHA256).
func FileSHA256(path string) (string, error) {
	sum, _, err := hashFile(path)
	return sum, err
}
