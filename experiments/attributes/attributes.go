package attributes

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/experiments/entropy"
	"github.com/wcos-dev/wcos/experiments/freqs"
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/internal/atomicfile"
	"github.com/wcos-dev/wcos/internal/progress"
	"github.com/wcos-dev/wcos/internal/runinfo"
	"github.com/wcos-dev/wcos/neuronsets"
)

// DefaultTopK is the reference's --topk.
const DefaultTopK = 50

// DefaultBatch is the number of facts decoded together, each its own sequence (the reference ran one
// at a time): on 2 CPU cores 2.6× the facts per second of one at a time, no faster beyond (BenchmarkRun).
const DefaultBatch = 16

// Set is a named neuron set to ablate. An empty set ablates nothing (its records equal the clean ones).
type Set = hooks.NamedSet

// Config is one attributes run.
type Config struct {
	Model       string // GGUF file
	ModelSHA256 string // checked against a --means summary's model
	Facts       string // facts.jsonl
	Attributes  string // subject_attributes.json, or wiki.csv (the subjects' Wikipedia paragraphs)
	// ParagraphTokens cuts each subject's paragraphs to this many tokens, BOS included (0: no cut;
	// the reference: DefaultParagraphTokens). Only for wiki.csv.
	ParagraphTokens int
	// Set and Baseline are ablated in turn after the clean run (nil: not run). A Baseline's name
	// defaults to Set's name + "_baseline".
	Set, Baseline *Set
	Ablation      string                   // "" or "zero", "mean"
	Means         map[hooks.Neuron]float32 // explicit values for mean ablation, or
	Summary       *freqs.Summary           // a freqs summary: conditional means (paper-spec §4.3)
	Gate, Post    hooks.Sign
	Refactor      bool // post condition on s_n·post (paper default); false: raw sign
	TopK          int  // 0: DefaultTopK
	// Stopwords are left out of the attribute tokens and the cleaned predictions, and StopwordsName
	// ("": "custom") names them in summary.json; nil: NLTKEnglish, named DefaultStopwords.
	Stopwords     map[string]bool
	StopwordsName string
	MaxFacts      int // use the first MaxFacts facts (0: all)
	Batch         int // facts decoded together (0: DefaultBatch)
	Exact         bool
	Threads       int
	GPULayers     int
	Out           string
	Progress      io.Writer
	RunInfo       *runinfo.Info // written as run.json with the outputs when set
}

// Record is one logit-lens reading: a fact, a layer ("emb" or the layer index) and a set.
type Record struct {
	FactID        int32    `parquet:"fact_id"`
	Subject       string   `parquet:"subject"`
	Relation      string   `parquet:"relation"`
	Prompt        string   `parquet:"prompt"`
	SubjectTokens []string `parquet:"subject_tokens,list"`
	Position      int32    `parquet:"position"` // of the last subject token, BOS = 0
	Layer         string   `parquet:"layer"`
	Set           string   `parquet:"set"`
	Intervention  string   `parquet:"intervention"`
	TopK          []string `parquet:"top_k,list"`
	TopKClean     []string `parquet:"top_k_clean,list"`
	NumClean      int32    `parquet:"num_clean"`
	Rate          float64  `parquet:"rate"`
}

// SetInfo describes one evaluated set in summary.json.
type SetInfo struct {
	Name         string   `json:"name"`
	Neurons      int      `json:"neurons"`
	Intervention string   `json:"intervention"`
	List         []string `json:"neuron_list,omitempty"`
}

// Summary is what summary.json holds.
type Summary struct {
	Model        string `json:"model"`
	ModelDesc    string `json:"model_desc"`
	Facts        int    `json:"facts"`      // in the file (or the first MaxFacts)
	FactsUsed    int    `json:"facts_used"` // with the subject in the prompt
	Skipped      int    `json:"skipped_facts"`
	SkippedIDs   []int  `json:"skipped_fact_ids,omitempty"`
	NoAttributes int    `json:"facts_without_attributes"` // their records rate -1
	Attributes   string `json:"attributes"`               // "names" or "paragraphs" (wiki.csv)
	// ParagraphTokens is where paragraphs were cut (0: not cut; omitted for names).
	ParagraphTokens int       `json:"paragraph_tokens,omitempty"`
	Subjects        int       `json:"subjects"`
	TopK            int       `json:"topk"`
	Stopwords       string    `json:"stopwords"`       // a StopwordLists name or a file
	StopwordsN      int       `json:"stopwords_words"` // how many words the list has
	Layers          int       `json:"layers"`
	Sets            []SetInfo `json:"sets"`
	Records         int       `json:"records"`
	Excluded        int       `json:"excluded_records"` // rate -1
	// MeanRateLastLayer is each set's mean rate at the last layer over facts with rate > -1 (null: none).
	MeanRateLastLayer map[string]*float64 `json:"mean_rate_last_layer"`
	// LensDevice is the GPU that held W_U for the logit lens ("": the host's CPU threads).
	LensDevice string `json:"lens_device,omitempty"`
	// Lens says how the residual stream is read in TransformerLens's coordinates (see lens.top).
	Lens   string `json:"lens"`
	Figure string `json:"figure"`
}

// Result is what Run computed (also written to Out).
type Result struct {
	Summary *Summary
	Records []Record
	Rates   []LayerRate
}

// ErrNoFacts: no fact of the file has its subject in its prompt.
var ErrNoFacts = errors.New("no usable fact")

// prepared is one fact ready to run.
type prepared struct {
	fact       Fact
	tokens     []int32 // BOS + prompt, cut after the last subject token
	subj       []int32
	subjStr    []string
	attrTokens map[string]bool // nil: the subject has no attributes
}

// Run executes the experiment and writes records.parquet, records.csv, rates_by_layer.csv, the figure
// attributes_<intervention>.{png,svg}, summary.json and run.json into cfg.Out, atomically.
func Run(cfg Config) (*Result, error) {
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.TopK <= 0 {
		cfg.TopK = DefaultTopK
	}
	if cfg.Threads <= 0 {
		cfg.Threads = runtime.NumCPU()
	}
	cfg.Batch = cmp.Or(max(cfg.Batch, 0), DefaultBatch)
	if cfg.Stopwords == nil {
		cfg.Stopwords, cfg.StopwordsName = NLTKEnglish, DefaultStopwords
	}
	cfg.StopwordsName = cmp.Or(cfg.StopwordsName, "custom")
	if cfg.Set == nil && cfg.Baseline != nil {
		return nil, errors.New("a baseline set needs a set (--neurons)")
	}
	if cfg.Set != nil {
		cfg.Set.Name = cmp.Or(cfg.Set.Name, "set")
		if cfg.Set.Name == "clean" {
			return nil, errors.New(`set name "clean" is reserved for the run without ablation`)
		}
		if cfg.Baseline != nil {
			cfg.Baseline.Name = cmp.Or(cfg.Baseline.Name, cfg.Set.Name+"_baseline")
			if cfg.Baseline.Name == cfg.Set.Name || cfg.Baseline.Name == "clean" {
				return nil, fmt.Errorf("baseline set name %q clashes with another set", cfg.Baseline.Name)
			}
		}
	}
	facts, err := ReadFacts(cfg.Facts)
	if err != nil {
		return nil, err
	}
	if cfg.MaxFacts > 0 && len(facts) > cfg.MaxFacts {
		facts = facts[:cfg.MaxFacts]
	}
	attrs, err := ReadAttributes(cfg.Attributes)
	if err != nil {
		return nil, err
	}
	if cfg.ModelSHA256 == "" && cfg.Summary != nil {
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
	fold, err := hasFinalNormWeight(cfg.Model)
	if err != nil {
		return nil, err
	}
	nl, d := m.NLayer(), m.NEmbd()

	// Hook specs: validate every set before any work.
	type run struct {
		name, intervention string
		spec               hooks.Spec
		n                  int
		list               []string
	}
	runs := []run{{name: "clean", intervention: "none", spec: hooks.Spec{Residual: true}}}
	for _, s := range []*Set{cfg.Set, cfg.Baseline} {
		if s == nil {
			continue
		}
		if err := (hooks.Spec{Ablation: &hooks.Ablation{Neurons: s.Neurons}}).Validate(nl, m.NFF()); err != nil {
			return nil, fmt.Errorf("neuron set %q: %v (%s)", s.Name, err, cfg.Model)
		}
		spec, err := buildSpec(cfg, s.Neurons)
		if err != nil {
			return nil, fmt.Errorf("neuron set %q: %w", s.Name, err)
		}
		r := run{name: s.Name, intervention: neuronsets.Intervention(cfg.Ablation, cfg.Gate.String(), cfg.Post.String()), spec: spec, n: len(s.Neurons)}
		for _, n := range s.Neurons {
			r.list = append(r.list, n.String())
		}
		runs = append(runs, r)
	}

	sum := &Summary{Model: cfg.Model, ModelDesc: m.Desc(), Facts: len(facts), TopK: cfg.TopK, Layers: nl,
		Stopwords: cfg.StopwordsName, StopwordsN: len(cfg.Stopwords)}
	sum.Attributes = attrs.Source()
	if attrs.Paragraphs != nil {
		sum.ParagraphTokens = cfg.ParagraphTokens
	}
	preps, err := prepare(m, facts, attrs, cfg.Stopwords, cfg.ParagraphTokens, sum)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Facts, err)
	}
	wu, emb, err := readUnembedding(cfg.Model, m.VocabSize(), d, fold)
	if err != nil {
		return nil, err
	}
	switch {
	case m.RMSNorm():
		sum.Lens = "resid · (final RMSNorm weight ⊙ W_U) (RMSNorm model)"
	case fold:
		sum.Lens = "resid centred along d_model · (final LayerNorm weight ⊙ W_U) (LayerNorm model with a weight)"
	default:
		sum.Lens = "resid centred along d_model · W_U (LayerNorm model)"
	}
	maxTok := 1
	for _, p := range preps {
		maxTok = max(maxTok, len(p.tokens))
	}
	batch := min(cfg.Batch, len(preps))
	ctx, err := m.NewContext(bindings.ContextOptions{MaxTokens: batch * maxTok, MaxRows: batch, Threads: cfg.Threads, Exact: cfg.Exact})
	if err != nil {
		return nil, err
	}
	defer ctx.Close()

	lens := &lens{wu: wu, vocab: m.VocabSize(), d: d, k: cfg.TopK, threads: cfg.Threads, tok: m, centre: !m.RMSNorm()}
	if cfg.GPULayers != 0 && bindings.HasGPU() { // W_U beside the model on the GPU, uploaded once
		if lens.dev, err = bindings.NewMatMul(wu, m.VocabSize(), d, batch*(nl+1), true, cfg.Threads); err != nil {
			return nil, err
		}
		defer lens.dev.Close()
		sum.LensDevice = lens.dev.Device()
	}
	var records []Record
	bar := progress.New(cfg.Progress, "attributes", "facts", int64(len(preps)*len(runs)))
	for _, r := range runs {
		if err := ctx.SetHooks(r.spec); err != nil {
			return nil, fmt.Errorf("set %s: %w", r.name, err)
		}
		sum.Sets = append(sum.Sets, SetInfo{Name: r.name, Neurons: r.n, Intervention: r.intervention, List: r.list})
		for lo := 0; lo < len(preps); lo += batch {
			group := preps[lo:min(lo+batch, len(preps))]
			recs, err := readFacts(ctx, lens, emb, group, r.name == "clean", nl, d)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", r.name, err)
			}
			for i, p := range group {
				pos := int32(len(p.tokens) - 1)
				for l, top := range recs[i] {
					layer := "emb"
					if l < nl {
						layer = strconv.Itoa(l)
					}
					clean := CleanTokens(top, cfg.Stopwords)
					records = append(records, Record{
						FactID: int32(p.fact.ID), Subject: p.fact.Subject, Relation: p.fact.Relation, Prompt: p.fact.Prompt,
						SubjectTokens: p.subjStr, Position: pos, Layer: layer, Set: r.name, Intervention: r.intervention,
						TopK: top, TopKClean: clean, NumClean: int32(len(clean)), Rate: Rate(clean, p.attrTokens, cfg.TopK),
					})
				}
			}
			bar.Add(int64(len(group)))
		}
	}
	bar.Finish()
	res := &Result{Summary: sum, Records: records}
	setNames := make([]string, len(runs))
	for i, r := range runs {
		setNames[i] = r.name
	}
	res.Rates = RatesByLayer(records, setNames, nl)
	sum.Records = len(records)
	for _, r := range records {
		if r.Rate < 0 {
			sum.Excluded++
		}
	}
	sum.MeanRateLastLayer = map[string]*float64{}
	for _, name := range setNames {
		sum.MeanRateLastLayer[name] = nil
		for _, lr := range res.Rates {
			if lr.Set == name && lr.Layer == strconv.Itoa(nl-1) && lr.N > 0 {
				sum.MeanRateLastLayer[name] = &lr.Mean
			}
		}
	}

	intervention := "clean"
	if len(runs) > 1 {
		intervention = runs[1].intervention
	}
	if err := atomicfile.BuildDir(cfg.Out, func(tmp string) error {
		if err := writeOutputs(tmp, res, setNames, intervention, nl); err != nil {
			return err
		}
		return cfg.RunInfo.Write(tmp)
	}); err != nil {
		return nil, err
	}
	return res, nil
}

// readFacts decodes a group of facts together, one sequence each, and reads the residual stream at each
// one's last token after every layer through the lens: the top-k strings per fact and layer, then (with
// emb) of the subject's mean embedding.
func readFacts(ctx *bindings.Context, lens *lens, emb []float32, group []prepared, withEmb bool, nl, d int) ([][][]string, error) {
	rows := make([][]int32, len(group))
	for i, p := range group {
		rows[i] = p.tokens
	}
	if err := ctx.Decode(rows); err != nil {
		return nil, fmt.Errorf("facts %d–%d: %w", group[0].fact.ID, group[len(group)-1].fact.ID, err)
	}
	per := nl
	if withEmb {
		per++
	}
	// rowsIn holds per fact its nl (+1) lens inputs, fact after fact.
	rowsIn := make([]float32, len(group)*per*d)
	for l := 0; l < nl; l++ {
		res := ctx.Residual(l)
		if res == nil {
			return nil, fmt.Errorf("no residual stream captured after layer %d", l)
		}
		last := -1 // the last token of row i, in decode order
		for i, p := range group {
			last += len(p.tokens)
			copy(rowsIn[(i*per+l)*d:], res[last*d:(last+1)*d])
		}
	}
	if withEmb { // the subject's mean embedding: independent of any ablation
		for i, p := range group {
			copy(rowsIn[(i*per+nl)*d:], meanRows(emb, p.subj, d))
		}
	}
	tops, err := lens.top(rowsIn, len(group)*per)
	if err != nil {
		return nil, err
	}
	out := make([][][]string, len(group))
	for i := range group {
		out[i] = tops[i*per : (i+1)*per]
	}
	return out, nil
}

// buildSpec is the entropy experiment's hook spec for neurons (zero/mean, conditions, refactor signs),
// capturing the residual stream; no neurons: no ablation.
func buildSpec(cfg Config, neurons []hooks.Neuron) (hooks.Spec, error) {
	if len(neurons) == 0 {
		return hooks.Spec{Residual: true}, nil
	}
	spec, err := entropy.BuildSpec(entropy.Config{Model: cfg.Model, ModelSHA256: cfg.ModelSHA256, Neurons: neurons,
		Ablation: cfg.Ablation, Means: cfg.Means, Summary: cfg.Summary, Gate: cfg.Gate, Post: cfg.Post, Refactor: cfg.Refactor})
	if err != nil {
		return spec, err
	}
	spec.Scale, spec.Residual = false, true
	return spec, nil
}

// prepare tokenises the facts, finds their subjects and the subjects' attribute tokens; facts whose
// subject is not in the prompt are skipped and counted in sum.
func prepare(m *bindings.Model, facts []Fact, attrs *Attributes, stop map[string]bool, paragraphTokens int, sum *Summary) ([]prepared, error) {
	bos := m.BOS() // OLMo: the EOS id (dolma-small, HF add_bos_token)
	attrToks := map[string]map[string]bool{}
	subjects := map[string]bool{}
	var out []prepared
	for _, f := range facts {
		ids, err := m.Tokenize(f.Prompt)
		if err != nil {
			return nil, fmt.Errorf("fact %d: %v", f.ID, err)
		}
		pieces := make([]string, len(ids))
		for i, id := range ids {
			pieces[i] = m.TokenText(id)
		}
		start, end, err := FindSubject(pieces, f.Subject)
		if err != nil {
			sum.Skipped++
			sum.SkippedIDs = append(sum.SkippedIDs, f.ID)
			continue
		}
		p := prepared{fact: f, tokens: append([]int32{bos}, ids[:end]...), subj: ids[start:end]}
		for _, id := range p.subj {
			p.subjStr = append(p.subjStr, TokenString(m, id))
		}
		toks, done := attrToks[f.Subject]
		if !done {
			if toks, err = attrs.Tokens(m, bos, f.Subject, stop, paragraphTokens); err != nil {
				return nil, fmt.Errorf("subject %q: %v", f.Subject, err)
			}
			attrToks[f.Subject] = toks
		}
		if p.attrTokens = toks; toks == nil {
			sum.NoAttributes++
		}
		subjects[f.Subject] = true
		out = append(out, p)
	}
	sum.FactsUsed, sum.Subjects = len(out), len(subjects)
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: the subject of none of the %d facts is in its prompt", ErrNoFacts, len(facts))
	}
	return out, nil
}

// readUnembedding reads W_U as [vocab, d] rows (output.weight, or the token embedding when tied) and
// the token embedding. For an RMSNorm model (rms) W_U is TransformerLens's processed one: the final
// norm's weight (output_norm.weight; llama.cpp stores Gemma's as 1 + w) folded in, W_U[v] ⊙ g.
// hasFinalNormWeight reports whether the model's final norm has a weight (RMSNorm models, GPT-2-like
// LayerNorms; not OLMo's).
func hasFinalNormWeight(path string) (bool, error) {
	g, err := bindings.OpenGGUF(path)
	if err != nil {
		return false, err
	}
	defer g.Close()
	return g.Has("output_norm.weight"), nil
}

// readUnembedding reads W_U (the output matrix, or the tied embedding) and the embedding; with fold,
// the final norm's weight g is folded in, g ⊙ W_U, as TransformerLens's fold_ln does (its bias goes
// into b_U, which the reference's lens, hs @ W_U, leaves out).
func readUnembedding(path string, vocab, d int, fold bool) (wu, emb []float32, err error) {
	g, err := bindings.OpenGGUF(path)
	if err != nil {
		return nil, nil, err
	}
	tied := !g.Has("output.weight")
	g.Close()
	names := []string{"token_embd.weight"}
	if !tied {
		names = append(names, "output.weight")
	}
	if fold {
		names = append(names, "output_norm.weight")
	}
	ts, shapes, err := bindings.ReadGGUFTensors(path, names)
	if err != nil {
		return nil, nil, err
	}
	for _, n := range names {
		want := []int64{int64(vocab), int64(d)}
		if n == "output_norm.weight" {
			want = want[1:]
		}
		if sh := shapes[n]; !slices.Equal(sh, want) {
			return nil, nil, fmt.Errorf("%s: %s has shape %v, want %v", path, n, sh, want)
		}
	}
	emb = ts["token_embd.weight"]
	wu = emb
	if !tied {
		wu = ts["output.weight"]
	}
	if fold {
		g := ts["output_norm.weight"]
		folded := make([]float32, len(wu)) // not in place: a tied W_U is the embedding too
		for i, w := range wu {
			folded[i] = w * g[i%d]
		}
		wu = folded
	}
	return wu, emb, nil
}

func meanRows(m []float32, ids []int32, d int) []float32 {
	acc := make([]float64, d)
	for _, id := range ids {
		for i, v := range m[int(id)*d : (int(id)+1)*d] {
			acc[i] += float64(v)
		}
	}
	out := make([]float32, d)
	for i := range acc {
		out[i] = float32(acc[i] / float64(len(ids)))
	}
	return out
}

// centreRows returns a copy of the n rows of x [n, d], each minus its mean.
func centreRows(x []float32, n, d int) []float32 {
	out := make([]float32, n*d)
	for r := range n {
		row := x[r*d : (r+1)*d]
		var sum float64
		for _, v := range row {
			sum += float64(v)
		}
		mean := sum / float64(d)
		for i, v := range row {
			out[r*d+i] = float32(float64(v) - mean)
		}
	}
	return out
}

// lens is the logit lens: scores = x · W_U (no final norm), top-k token strings.
type lens struct {
	wu       []float32
	vocab, d int
	k        int
	threads  int
	tok      Tokenizer
	buf      []float32
	dev      *bindings.MatMul // W_U kept on a GPU; nil: the product runs on the host's CPU threads
	centre   bool             // a LayerNorm model: rows are centred (see top)
}

// top returns the top-k token strings of each of the n rows of x [n, d] as the reference reads them in
// TransformerLens's processed coordinates (paper-spec §1.3, §9): for a LayerNorm model every weight
// that writes to the residual stream (W_E, W_O, W_out) is centred along d_model, so the stream there
// is llama.cpp's stream minus its mean over d_model, and the mean embedding likewise. Each row is
// centred here (l.centre); that changes the top-k, since the mean's product with W_U differs per
// token. An RMSNorm model's writing weights are not centred; its final norm's weight is folded into
// W_U instead (readUnembedding). The centring of W_U itself (each row's mean over the vocabulary
// subtracted) adds one constant to all of a row's scores and leaves the top-k as it is, so W_U is used
// as stored. Ties: lower id first.
func (l *lens) top(x []float32, n int) ([][]string, error) {
	ids, err := l.topIDs(x, n)
	if err != nil {
		return nil, err
	}
	out := make([][]string, n)
	for r, row := range ids {
		out[r] = make([]string, len(row))
		for i, id := range row {
			out[r][i] = TokenString(l.tok, id)
		}
	}
	return out, nil
}

// topIDs is top's token ids.
func (l *lens) topIDs(x []float32, n int) ([][]int32, error) {
	if cap(l.buf) < n*l.vocab {
		l.buf = make([]float32, n*l.vocab)
	}
	if l.centre {
		x = centreRows(x, n, l.d)
	}
	var scores []float32
	var err error
	if l.dev != nil {
		scores, err = l.dev.Apply(x, n, l.buf[:n*l.vocab])
	} else {
		scores, err = bindings.MatMulNT(x, n, l.wu, l.vocab, l.d, l.buf[:n*l.vocab], l.threads)
	}
	if err != nil {
		return nil, err
	}
	return bindings.TopKRows(scores, n, l.vocab, l.k)
}

// TopK returns the indices of the k largest scores, largest first (ties: lower index first).
func TopK(scores []float32, k int) []int32 {
	if len(scores) == 0 || k <= 0 {
		return []int32{}
	}
	ids, err := bindings.TopKRows(scores, 1, len(scores), k)
	if err != nil {
		panic(err) // not reached: the sizes are those of scores
	}
	return ids[0]
}
