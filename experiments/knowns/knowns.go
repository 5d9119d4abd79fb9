package knowns

import (
	"cmp"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/experiments/attributes"
	"github.com/wcos-dev/wcos/internal/atomicfile"
	"github.com/wcos-dev/wcos/internal/progress"
	"github.com/wcos-dev/wcos/internal/runinfo"
)

// RoundTokens is the reference's max_new_tokens per generation round.
const RoundTokens = 10

// DefaultBatch is the number of facts generated together: their KV cache is that many rows of about
// 150 tokens (2.5 GB for OLMo-7B at F16).
const DefaultBatch = 32

// DefaultMaxTokens bounds the tokens generated for one fact before it counts as undecided.
const DefaultMaxTokens = 100

// Config is one knowns run.
type Config struct {
	Model     string // GGUF file
	Facts     string // facts with subject, template and attribute (attributes.ReadFacts)
	MaxTokens int    // generated tokens per fact before it is undecided (0: DefaultMaxTokens)
	Batch     int    // facts generated together (0: DefaultBatch)
	MaxFacts  int    // the first MaxFacts facts (0: all)
	Exact     bool
	Threads   int
	GPULayers int
	Out       string
	Progress  io.Writer
	RunInfo   *runinfo.Info
}

// KnownFact is a fact the model knows, as in the reference's known_<model>.json: the fact with its prompt
// replaced by the text up to the attribute, and the generated rest as prediction.
type KnownFact struct {
	attributes.Fact
	Prediction string `json:"prediction"`
}

// Rejected is a fact the model does not know, or that no decision was reached for.
type Rejected struct {
	ID        int    `json:"id"`
	Subject   string `json:"subject"`
	Attribute string `json:"attribute"`
	Prompt    string `json:"prompt"`    // the generation prompt
	Generated string `json:"generated"` // the text generated after it
	Reason    string `json:"reason"`    // "unknown" or "undecided"
}

// Summary is what summary.json holds.
type Summary struct {
	Model     string `json:"model"`
	ModelDesc string `json:"model_desc"`
	Facts     int    `json:"facts"`
	Known     int    `json:"known"`
	Unknown   int    `json:"unknown"`
	Undecided int    `json:"undecided"`
	MaxTokens int    `json:"max_tokens"`
	Rounds    int    `json:"rounds"`           // generation rounds of the slowest fact
	Generated int64  `json:"generated_tokens"` // over all facts and rounds
}

// Result is what Run computed (also written to Out).
type Result struct {
	Summary  *Summary
	Known    []KnownFact
	Rejected []Rejected
}

// Run generates for every fact and writes knowns.jsonl (the known facts, for wcos attributes --facts),
// rejected.jsonl, summary.json and run.json into cfg.Out, at once at the end.
func Run(cfg Config) (*Result, error) {
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	cfg.MaxTokens = cmp.Or(cfg.MaxTokens, DefaultMaxTokens)
	cfg.Batch = cmp.Or(cfg.Batch, DefaultBatch)
	if cfg.MaxTokens < 0 || cfg.Batch < 0 || cfg.MaxFacts < 0 {
		return nil, fmt.Errorf("max tokens %d, batch %d, max facts %d: none may be negative", cfg.MaxTokens, cfg.Batch, cfg.MaxFacts)
	}
	if cfg.Threads <= 0 {
		cfg.Threads = runtime.NumCPU()
	}
	facts, err := ReadFacts(cfg.Facts)
	if err != nil {
		return nil, err
	}
	if cfg.MaxFacts > 0 && len(facts) > cfg.MaxFacts {
		facts = facts[:cfg.MaxFacts]
	}
	m, err := bindings.LoadModel(cfg.Model, bindings.ModelOptions{GPULayers: cfg.GPULayers})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	bos, eos := m.BOS(), m.EOS() // OLMo: BOS is the EOS id (as the attributes experiment)

	judges := make([]*judge, len(facts))
	prompts := make([]string, len(facts))
	longest := 0
	for i, f := range facts {
		prompts[i] = Prompt(f.Template, f.Subject)
		judges[i] = newJudge(prompts[i], f.Attribute)
		ids, err := m.Tokenize(judges[i].text)
		if err != nil {
			return nil, fmt.Errorf("fact %d: %v", f.ID, err)
		}
		longest = max(longest, len(ids))
	}
	// A row holds BOS, the prompt (a few tokens more once tokenized again), the tokens generated
	// before the last round and that round's.
	rowCap := 1 + longest + 8 + cfg.MaxTokens + RoundTokens
	batch := min(cfg.Batch, len(facts))
	ctx, err := m.NewContext(bindings.ContextOptions{MaxTokens: batch * rowCap, MaxRows: batch, Threads: cfg.Threads, Exact: cfg.Exact})
	if err != nil {
		return nil, err
	}
	defer ctx.Close()

	sum := &Summary{Model: cfg.Model, ModelDesc: m.Desc(), Facts: len(facts), MaxTokens: cfg.MaxTokens}
	bar := progress.New(cfg.Progress, "knowns", "facts", int64(len(facts)))
	generated := make([]int, len(facts)) // tokens generated per fact
	open := make([]int, len(facts))      // undecided facts
	for i := range open {
		open[i] = i
	}
	start := time.Now()
	for len(open) > 0 {
		sum.Rounds++
		var rows [][]int32
		in := open[:0:0] // the facts of rows
		for _, i := range open {
			judges[i].begin()
			ids, err := m.Tokenize(judges[i].text)
			if err != nil {
				return nil, fmt.Errorf("fact %d: %v", facts[i].ID, err)
			}
			if len(ids)+1+RoundTokens > rowCap { // the text grew when tokenized again: stays undecided
				bar.Add(1)
				continue
			}
			rows, in = append(rows, append([]int32{bos}, ids...)), append(in, i)
		}
		next := open[:0:0]
		for lo := 0; lo < len(rows); lo += batch {
			hi := min(lo+batch, len(rows))
			out, err := ctx.Generate(rows[lo:hi], bindings.GenerateOptions{MaxNew: RoundTokens, Stop: []int32{eos}})
			if err != nil {
				return nil, err
			}
			for k, gen := range out {
				i := in[lo+k]
				j := judges[i]
				generated[i] += len(gen)
				sum.Generated += int64(len(gen))
				j.update(m.Detokenize(slices.Concat(rows[lo+k][1:], gen)), slices.Contains(gen, eos))
				if j.verdict == Undecided && generated[i] < cfg.MaxTokens && len(gen) == RoundTokens {
					next = append(next, i)
					continue
				}
				bar.Add(1)
			}
		}
		open = next
	}
	bar.Finish()
	if cfg.RunInfo != nil {
		cfg.RunInfo.TokensPerSecond = float64(sum.Generated) / time.Since(start).Seconds()
	}

	res := &Result{Summary: sum}
	for i, f := range facts {
		j := judges[i]
		switch j.verdict {
		case Known:
			k := KnownFact{Fact: f}
			k.Prompt, k.Prediction = j.split()
			res.Known = append(res.Known, k)
			sum.Known++
		default:
			r := Rejected{ID: f.ID, Subject: f.Subject, Attribute: f.Attribute, Prompt: prompts[i], Generated: tail(j.text, len(prompts[i])), Reason: j.verdict.String()}
			res.Rejected = append(res.Rejected, r)
			if j.verdict == Unknown {
				sum.Unknown++
			} else {
				sum.Undecided++
			}
		}
	}
	if err := write(cfg, res); err != nil {
		return nil, err
	}
	return res, nil
}

// ReadFacts reads facts as attributes.ReadFacts does; each also needs a template and an attribute.
func ReadFacts(path string) ([]attributes.Fact, error) {
	facts, err := attributes.ReadFacts(path)
	if err != nil {
		return nil, err
	}
	for _, f := range facts {
		if f.Template == "" || f.Attribute == "" {
			return nil, fmt.Errorf("%s: fact %d has no template or no attribute", path, f.ID)
		}
	}
	return facts, nil
}

func write(cfg Config, res *Result) error {
	return atomicfile.BuildDir(cfg.Out, func(tmp string) error {
		if err := atomicfile.WriteJSONL(filepath.Join(tmp, "knowns.jsonl"), res.Known); err != nil {
			return err
		}
		if err := atomicfile.WriteJSONL(filepath.Join(tmp, "rejected.jsonl"), res.Rejected); err != nil {
			return err
		}
		if err := atomicfile.WriteJSON(filepath.Join(tmp, "summary.json"), res.Summary); err != nil {
			return err
		}
		return cfg.RunInfo.Write(tmp)
	})
}
