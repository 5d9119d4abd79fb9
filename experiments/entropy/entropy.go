package entropy

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/dataset"
	"github.com/wcos-dev/wcos/experiments/freqs"
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/internal/atomicfile"
	"github.com/wcos-dev/wcos/internal/progress"
	"github.com/wcos-dev/wcos/internal/runinfo"
	"github.com/wcos-dev/wcos/safetensors"
)

// Config is one entropy run.
type Config struct {
	Model       string // GGUF file
	ModelSHA256 string // checked against a --means summary's model
	Dataset     string // JSONL (text or input_ids), or any source package dataset reads
	Neurons     []hooks.Neuron
	Ablation    string                   // "", "zero" or "mean"
	Means       map[hooks.Neuron]float32 // explicit values (JSON/CSV), or
	Summary     *freqs.Summary           // a freqs summary: conditional means of paper-spec §4.3
	Gate        hooks.Sign
	Post        hooks.Sign
	Refactor    bool // post condition on s_n·post (paper default); false: raw sign of post
	Exact       bool
	BatchSize   int // rows per decode
	MaxLength   int
	MaxTokens   int64 // stop after this many tokens (0: all)
	Threads     int
	GPULayers   int
	// PerRow: "on" decodes a batch's rows one after the other (one KV stream per row), "off" in one
	// decode, "auto" (or "") row by row unless the model is on a GPU (bindings.Model.PerRow).
	PerRow   string
	Out      string
	Progress io.Writer
	// RunInfo, if set, is written as run.json together with the outputs.
	RunInfo *runinfo.Info
	// CheckpointBatches and CheckpointEvery bound the work lost to a kill: the rows done are saved to
	// Out+".partial/checkpoint.safetensors" after that many batches or that much time, whichever is
	// first (0: DefaultCheckpointBatches, DefaultCheckpointEvery).
	CheckpointBatches int
	CheckpointEvery   time.Duration
	// stopAfter aborts the run once that many batches of the whole run are done, as a kill would (tests).
	stopAfter int
}

// Checkpoint defaults: 250 batches are 1,000 rows at the default batch size, as wcos freqs.
const (
	DefaultCheckpointBatches = 250
	DefaultCheckpointEvery   = 5 * time.Minute
)

var errStopped = errors.New("stopped (test)")

// Summary is what summary.json holds.
type Summary struct {
	Rows        int     `json:"rows"`
	Tokens      int64   `json:"tokens"`
	LossTokens  int64   `json:"loss_tokens"`
	MeanEntropy float64 `json:"mean_entropy"`
	MeanLoss    float64 `json:"mean_loss"`
	MeanRank    float64 `json:"mean_rank"`
	MedianRank  float64 `json:"median_rank"`
	Top1        float64 `json:"top1_accuracy"`
	MeanScale   float64 `json:"mean_log_scale"`
	Ablated     int     `json:"ablated_neurons"`
	Ablation    string  `json:"ablation"`
	Condition   string  `json:"condition"` // "none", or as the reference names it: gate-_post+, gate+_postNone
	TokensPerS  float64 `json:"-"`         // timing: in run.json, so that summary.json is the same for a resumed run
	Model       string  `json:"model"`
	ModelDesc   string  `json:"model_desc"`
}

// BuildSpec turns the configuration into a hook spec, reading refactor signs from the model's weights
// when the post condition needs them.
func BuildSpec(cfg Config) (hooks.Spec, error) {
	spec := hooks.Spec{Scale: true}
	if len(cfg.Neurons) == 0 {
		if cfg.Ablation != "" || cfg.Gate != 0 || cfg.Post != 0 {
			return spec, fmt.Errorf("--ablation/--gate/--post need --neurons")
		}
		return spec, nil
	}
	a := &hooks.Ablation{Neurons: cfg.Neurons, Gate: cfg.Gate, Post: cfg.Post}
	switch cfg.Ablation {
	case "", "zero":
	case "mean":
		switch {
		case cfg.Summary != nil:
			vals, err := summaryMeans(cfg)
			if err != nil {
				return spec, err
			}
			a.Values = vals
		case cfg.Means != nil:
			a.Values = make([]float32, len(cfg.Neurons))
			for i, n := range cfg.Neurons {
				v, ok := cfg.Means[n]
				if !ok {
					return spec, fmt.Errorf("--means has no value for neuron %s", n)
				}
				a.Values[i] = v
			}
		default:
			return spec, fmt.Errorf("--ablation mean needs --means")
		}
	default:
		return spec, fmt.Errorf("bad --ablation %q: want zero or mean", cfg.Ablation)
	}
	if cfg.Post != 0 && cfg.Refactor {
		signs, err := RefactorSigns(cfg.Model, cfg.Neurons)
		if err != nil {
			return spec, err
		}
		a.Signs = signs
	}
	spec.Ablation = a
	return spec, nil
}

// Run executes the experiment and writes metrics.safetensors, summary.json and (with RunInfo)
// run.json into cfg.Out, which is created atomically (a temporary sibling renamed at the end), so
// cfg.Out never holds a partial result. Every CheckpointBatches batches (or CheckpointEvery) the rows
// done are saved to Out+".partial/checkpoint.safetensors"; a run with the same inputs resumes there
// and writes outputs byte-identical to an uninterrupted run's, one with other inputs is refused.
func Run(cfg Config) (*Summary, error) {
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 4
	}
	if cfg.MaxLength <= 0 {
		cfg.MaxLength = 1024
	}
	if cfg.Threads <= 0 {
		cfg.Threads = runtime.NumCPU()
	}
	if cfg.CheckpointBatches <= 0 {
		cfg.CheckpointBatches = DefaultCheckpointBatches
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = DefaultCheckpointEvery
	}
	if cfg.ModelSHA256 == "" { // the checkpoint must know the model by its content
		fi, err := runinfo.Hash(cfg.Model)
		if err != nil {
			return nil, err
		}
		cfg.ModelSHA256 = fi.SHA256
	}
	m, err := bindings.LoadModel(cfg.Model, bindings.ModelOptions{GPULayers: cfg.GPULayers})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	perRow, err := m.PerRow(cfg.PerRow)
	if err != nil {
		return nil, err
	}
	if err := (hooks.Spec{Ablation: &hooks.Ablation{Neurons: cfg.Neurons}}).Validate(m.NLayer(), m.NFF()); err != nil {
		return nil, fmt.Errorf("--neurons: %v (%s)", err, cfg.Model)
	}
	spec, err := BuildSpec(cfg)
	if err != nil {
		return nil, err
	}
	// A checkpoint of other inputs is refused before the data set is read (it can take minutes).
	ck := newCheckpoint(cfg, spec)
	prev, err := ck.Open()
	if err != nil {
		return nil, err
	}
	if prev != nil {
		defer prev.Close()
	}
	rows, err := readRows(cfg, m)
	if err != nil {
		return nil, err
	}
	ck.addRows(rows)
	ctx, err := m.NewContext(bindings.ContextOptions{MaxTokens: cfg.BatchSize * cfg.MaxLength, MaxRows: cfg.BatchSize, Threads: cfg.Threads, Exact: cfg.Exact,
		PerRow: perRow, MaxRowLength: cfg.MaxLength, Metrics: true})
	if err != nil {
		return nil, err
	}
	defer ctx.Close()
	if err := ctx.SetHooks(spec); err != nil {
		return nil, err
	}

	n := len(rows)
	res := &metrics{lengths: make([]int32, n)}
	var total int64
	for i, r := range rows {
		res.width = max(res.width, len(r))
		res.lengths[i] = int32(len(r))
		total += int64(len(r))
	}
	width := res.width
	res.ent, res.loss, res.rank, res.scale = make([]float32, n*width), make([]float32, n*width), make([]int32, n*width), make([]float32, n*width)
	if prev != nil {
		if err := ck.restore(prev, res, cfg.BatchSize); err != nil {
			return nil, err
		}
		fmt.Fprintf(cfg.Progress, "resuming from %s: %d of %d rows, %d of %d tokens done\n", ck.Path, res.rows, n, res.tokens, total)
	}
	bar := progress.New(cfg.Progress, "entropy", "tok", total-res.tokens)
	lastSave, sinceSave := time.Now(), 0
	for b := res.rows; b < n; b += cfg.BatchSize {
		if cfg.stopAfter > 0 && b == cfg.stopAfter*cfg.BatchSize {
			return nil, errStopped
		}
		batch := rows[b:min(b+cfg.BatchSize, n)]
		if err := ctx.Decode(batch); err != nil {
			return nil, fmt.Errorf("rows %d–%d: %w", b, b+len(batch)-1, err)
		}
		met := ctx.Metrics()
		sc := ctx.Scales()
		k := 0
		for i, r := range batch {
			row := b + i
			for t := range r {
				o := row*width + t
				res.ent[o] = float32(met.Entropy[k])
				res.loss[o] = float32(met.Loss[k])
				res.rank[o] = met.Rank[k]
				res.scale[o] = sc[k]
				k++
			}
		}
		res.rows += len(batch)
		res.tokens += int64(k)
		sinceSave++
		bar.Add(int64(k))
		if res.rows < n && (sinceSave >= cfg.CheckpointBatches || time.Since(lastSave) >= cfg.CheckpointEvery) {
			if err := ck.save(res); err != nil {
				return nil, err
			}
			lastSave, sinceSave = time.Now(), 0
		}
	}
	bar.Finish()

	sum := summarise(res.ent, res.loss, res.rank, res.scale, res.lengths, width)
	sum.TokensPerS = bar.Rate()
	sum.Model, sum.ModelDesc = cfg.Model, m.Desc()
	if spec.Ablation != nil {
		sum.Ablated = len(spec.Ablation.Neurons)
		sum.Ablation = cfg.Ablation
		if sum.Ablation == "" {
			sum.Ablation = "zero"
		}
		sum.Condition = "none"
		if cfg.Gate != 0 || cfg.Post != 0 {
			sum.Condition = fmt.Sprintf("gate%s_post%s", cmp.Or(cfg.Gate.String(), "None"), cmp.Or(cfg.Post.String(), "None"))
		}
	}

	tmp, err := atomicfile.TempDir(cfg.Out)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	meta := map[string]string{
		"model": cfg.Model, "dataset": cfg.Dataset,
		"layout":  "[rows, max_len] zero-padded; lengths[r] tokens valid in row r; loss/rank valid at positions < lengths-1",
		"entropy": "-sum p log(p+1e-8), natural log", "loss": "-log p(next token)", "rank": "number of logits strictly greater than the next token's",
		"scale": "final norm scale: sqrt(var(resid)+eps) for a LayerNorm model, sqrt(mean(resid^2)+eps) for an RMSNorm model",
	}
	if err := safetensors.Write(filepath.Join(tmp, "metrics.safetensors"), res.tensors(n), meta); err != nil {
		return nil, err
	}
	js, _ := json.MarshalIndent(sum, "", "  ")
	if err := atomicfile.WriteFile(filepath.Join(tmp, "summary.json"), append(js, '\n')); err != nil {
		return nil, err
	}
	if cfg.RunInfo != nil {
		cfg.RunInfo.TokensPerSecond = sum.TokensPerS
		if err := cfg.RunInfo.Write(tmp); err != nil {
			return nil, err
		}
	}
	if err := atomicfile.ReplaceDir(tmp, cfg.Out); err != nil {
		return nil, err
	}
	os.RemoveAll(ck.Dir)
	return sum, nil
}

func readRows(cfg Config, m *bindings.Model) ([][]int32, error) {
	r, err := dataset.Open(cfg.Dataset, m, dataset.Options{MaxLength: cfg.MaxLength, MaxTokens: cfg.MaxTokens})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var rows [][]int32
	for {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		rows = append(rows, row.IDs)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no rows", cfg.Dataset)
	}
	return rows, nil
}

func summarise(ent, loss []float32, rank []int32, scale []float32, lengths []int32, width int) *Summary {
	s := &Summary{Rows: len(lengths)}
	var se, sl, sr, ss float64
	var top1 int64
	var ranks []int32
	for r, n := range lengths {
		for t := 0; t < int(n); t++ {
			o := r*width + t
			se += float64(ent[o])
			ss += math.Log(float64(scale[o]))
			s.Tokens++
			if t < int(n)-1 {
				sl += float64(loss[o])
				sr += float64(rank[o])
				ranks = append(ranks, rank[o])
				if rank[o] == 0 {
					top1++
				}
				s.LossTokens++
			}
		}
	}
	if s.Tokens > 0 {
		s.MeanEntropy, s.MeanScale = se/float64(s.Tokens), ss/float64(s.Tokens)
	}
	if s.LossTokens > 0 {
		s.MeanLoss, s.MeanRank, s.Top1 = sl/float64(s.LossTokens), sr/float64(s.LossTokens), float64(top1)/float64(s.LossTokens)
		sort.Slice(ranks, func(i, j int) bool { return ranks[i] < ranks[j] })
		s.MedianRank = float64(ranks[len(ranks)/2])
		if len(ranks)%2 == 0 {
			s.MedianRank = (float64(ranks[len(ranks)/2-1]) + float64(ranks[len(ranks)/2])) / 2
		}
	}
	return s
}
