package classes

import (
	"bufio"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/wcos-dev/wcos/internal/table"
)

// Published is a model's class counts as the paper's result repository gives them (paper-spec §8.1:
// RES:results/<model>/refactored/table.tex for the gated models, results/<model>/table.tex for the
// vanilla ones), computed with TransformerLens's processing. A run of the same weights is compared
// with them (wcos classes --paper).
type Published struct {
	Model     string // Hugging Face id
	Layers    int    // 0 where the source does not give it
	DMLP      int    // 0 where the source does not give it
	Vanilla   bool   // strengthening, orthogonal output and weakening only
	Totals    [NumClasses]int64
	Weakening []int64             // per layer (gated models)
	PerLayer  [][NumClasses]int64 // every class per layer (OLMo-7B-0424 only)
}

// Neurons is the total neuron count the counts add up to.
func (p *Published) Neurons() int64 {
	var n int64
	for _, c := range p.Totals {
		n += c
	}
	return n
}

// The tables of paper-spec §8.1, as printed there.
const (
	// model | L | d_mlp | S aS CS aCS PC aPC OO W aW CW aCW
	publishedGated = `
01-ai/Yi-6B | 32 | 11008 | 415 156 30146 159 11018 288 305449 552 807 3153 113
Qwen/Qwen2.5-0.5B | 24 | 4864 | 20 32 9716 2 3277 95 101462 226 381 1484 41
Qwen/Qwen2.5-7B | 28 | 18944 | 12 226 68223 5 7465 184 450245 925 892 2201 54
allenai/OLMo-1B-hf | 16 | 8192 | 41 46 14216 12 10009 104 93752 218 312 12312 50
allenai/OLMo-7B-0424-hf | 32 | 11008 | 47 213 121671 676 23814 128 192376 526 321 12440 44
google/gemma-2-2b | 26 | 9216 | 11 31 39089 7 8374 127 188122 372 705 2665 113
google/gemma-2-9b | 42 | 14336 | 77 121 119480 51 24133 244 449763 762 1195 6061 225
meta-llama/Llama-2-7b-hf | 32 | 11008 | 283 77 39438 70 18799 353 289623 967 845 1643 158
meta-llama/Llama-3.1-8B | 32 | 14336 | 17 139 56182 14 15807 498 381856 1144 904 1996 195
meta-llama/Llama-3.2-1B | 16 | 8192 | 10 28 20561 3 2105 183 106976 403 188 481 134
meta-llama/Llama-3.2-3B | 28 | 8192 | 24 117 49297 3 6322 272 171368 836 541 472 124
mistralai/Mistral-7B-v0.1 | 32 | 14336 | 9 164 63238 20 18590 319 370989 1541 1771 1995 116
`
	// model | weakening neurons per layer
	publishedWeakening = `
allenai/OLMo-7B-0424-hf | 5 23 8 5 11 19 7 6 2 3 2 7 6 9 8 3 4 11 11 12 11 9 7 17 15 19 29 14 19 36 50 138
allenai/OLMo-1B-hf | 1 8 10 17 31 18 8 4 7 12 20 23 20 14 17 8
google/gemma-2-2b | 1 5 3 1 9 13 2 10 6 4 4 6 10 20 11 61 37 20 20 29 20 18 18 14 13 17
google/gemma-2-9b | 1 0 0 1 4 6 6 0 3 7 14 14 10 8 11 14 1 7 6 7 4 30 27 48 20 38 32 50 38 45 39 24 16 15 31 16 24 18 27 35 40 25
meta-llama/Llama-2-7b-hf | 7 23 6 9 19 16 25 16 13 20 35 38 30 37 22 34 44 18 18 19 22 20 15 15 9 13 13 26 47 87 104 147
meta-llama/Llama-3.1-8B | 3 6 3 13 9 8 10 4 8 13 8 12 26 29 50 52 50 49 29 19 17 23 13 17 14 18 23 25 42 37 159 355
meta-llama/Llama-3.2-1B | 0 2 1 8 4 4 12 15 21 28 19 10 17 22 56 184
meta-llama/Llama-3.2-3B | 0 1 0 8 5 5 6 4 8 12 9 25 17 28 37 37 16 20 13 12 18 12 15 24 22 34 139 309
mistralai/Mistral-7B-v0.1 | 2 8 6 7 6 12 8 11 7 22 22 19 19 24 38 51 43 56 45 37 23 17 10 9 8 16 11 22 24 32 91 835
Qwen/Qwen2.5-0.5B | 0 10 9 2 6 7 11 3 4 0 8 1 3 5 8 7 2 14 9 6 13 21 21 56
Qwen/Qwen2.5-7B | 55 6 5 0 0 2 1 1 6 1 0 1 3 2 2 0 2 0 1 11 2 8 3 9 13 28 31 732
01-ai/Yi-6B | 2 12 5 8 4 13 17 17 4 13 7 12 21 17 13 16 25 27 13 16 13 14 11 4 1 3 3 3 3 34 82 119
`
	// OLMo-7B-0424-hf per layer: S aS CS aCS PC aPC OO W aW CW aCW
	publishedOLMo7BLayers = `
1 0 1397 619 34 8 8941 5 0 3 0
1 2 2867 3 120 10 7981 23 1 0 0
0 6 7379 6 270 3 3325 8 5 6 0
1 10 6966 1 497 5 3439 5 5 78 1
0 14 6223 0 601 2 4069 11 9 78 1
0 38 7206 2 1022 1 2501 19 17 202 0
0 18 7480 1 1156 3 2117 7 3 222 1
0 16 7661 0 921 2 2217 6 7 178 0
0 9 7076 0 839 2 2881 2 6 193 0
0 1 6445 0 893 0 3458 3 3 205 0
0 4 5526 0 710 0 4532 2 2 232 0
0 1 4821 0 697 0 5145 7 2 335 0
0 2 4279 0 642 0 5817 6 1 261 0
0 2 3926 0 685 0 6018 9 3 365 0
0 13 3876 0 887 0 5733 8 7 484 0
0 0 3768 0 923 0 5791 3 2 521 0
0 1 3420 0 773 2 6324 4 2 482 0
0 4 3312 0 636 2 6536 11 1 506 0
0 2 3488 1 687 0 6258 11 7 554 0
0 6 3692 1 866 3 5632 12 7 789 0
0 3 3030 0 1155 0 6095 11 8 706 0
0 5 3305 0 1162 1 5618 9 11 897 0
0 6 3075 0 1215 1 5838 7 8 858 0
2 8 3090 2 1183 2 5740 17 15 949 0
1 6 2342 4 1012 10 6823 15 8 786 1
15 6 2515 7 1107 7 6434 19 15 882 1
11 18 1719 10 997 3 7447 29 34 739 1
1 2 1066 1 793 12 8636 14 25 457 1
11 10 404 4 504 19 9748 19 18 265 6
1 0 50 1 59 4 10764 36 16 67 10
1 0 39 7 92 17 10730 50 14 51 7
1 0 228 6 676 9 9788 138 59 89 14
`
	// model | strengthening / orthogonal output / weakening
	publishedVanilla = `
gpt2 | 458 30229 6177
gpt2-medium | 1424 79673 17207
gpt2-large | 2868 158986 22466
gpt2-xl | 3411 277418 26371
distilgpt2 | 147 16018 2267
facebook/opt-125m | 41 33666 3157
facebook/opt-1.3b | 81 186321 10206
facebook/opt-6.7b | 80 509344 14864
facebook/opt-13b | 84 804221 14895
EleutherAI/gpt-j-6B | 1748 422188 34816
EleutherAI/pythia-14m | 8 2860 204
EleutherAI/pythia-1b | 262 111074 19736
EleutherAI/pythia-6.9b | 550 486485 37253
EleutherAI/pythia-12b | 835 698247 38198
bigscience/bloom-560m | 2312 67524 28468
bigscience/bloom-1b1 | 3443 105146 38867
bigscience/bloom-1b7 | 2132 136772 57704
bigscience/bloom-7b1 | 2673 365330 123517
google-bert/bert-base-cased | 199 35347 1318
google-bert/bert-large-cased | 72 97141 1091
google-t5/t5-small | 1 23000 1575
google-t5/t5-base | 0 70304 3424
google-t5/t5-large | 2 192379 4227
Baidicoot/Othello-GPT-Transformer-Lens | 361 12420 3603
`
)

// PublishedModels are the paper's 12 gated and 24 vanilla models.
var PublishedModels = parsePublished()

func fields(s string) []int64 {
	var out []int64
	for _, f := range strings.Fields(s) {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			panic("classes: published table: " + err.Error())
		}
		out = append(out, v)
	}
	return out
}

func parsePublished() []*Published {
	var ps []*Published
	byName := map[string]*Published{}
	rows := func(table string) [][]string {
		var out [][]string
		for _, line := range strings.Split(strings.TrimSpace(table), "\n") {
			parts := strings.Split(line, "|")
			for i := range parts {
				parts[i] = strings.TrimSpace(parts[i])
			}
			out = append(out, parts)
		}
		return out
	}
	for _, r := range rows(publishedGated) {
		p := &Published{Model: r[0], Layers: int(fields(r[1])[0]), DMLP: int(fields(r[2])[0])}
		copy(p.Totals[:], fields(r[3]))
		ps, byName[p.Model] = append(ps, p), p
	}
	for _, r := range rows(publishedWeakening) {
		byName[r[0]].Weakening = fields(r[1])
	}
	for _, line := range strings.Split(strings.TrimSpace(publishedOLMo7BLayers), "\n") {
		var c [NumClasses]int64
		copy(c[:], fields(line))
		byName["allenai/OLMo-7B-0424-hf"].PerLayer = append(byName["allenai/OLMo-7B-0424-hf"].PerLayer, c)
	}
	for _, r := range rows(publishedVanilla) {
		v := fields(r[1])
		p := &Published{Model: r[0], Vanilla: true}
		p.Totals[Strengthening], p.Totals[OrthogonalOutput], p.Totals[Weakening] = v[0], v[1], v[2]
		ps = append(ps, p)
	}
	return ps
}

// quantSuffix is a GGUF file name's type suffix (olmo-7b-0424.q8_0, model-f16, ….Q4_K_M).
var quantSuffix = regexp.MustCompile(`(?i)[.-](f32|f16|bf16|q[0-9][a-z0-9_]*|iq[0-9][a-z0-9_]*)$`)

// normName reduces a model name or path to what identifies it: the base name without a weights
// extension or type suffix, lower-case, without '-', '_', ' ' and a trailing "hf".
func normName(s string) string {
	s = filepath.Base(strings.TrimRight(s, "/"+string(filepath.Separator)))
	for _, ext := range []string{".gguf", ".pth", ".pt", ".bin", ".safetensors"} {
		s = strings.TrimSuffix(s, ext)
	}
	s = quantSuffix.ReplaceAllString(s, "")
	s = strings.ToLower(strings.NewReplacer("-", "", "_", "", " ", "").Replace(s))
	return strings.TrimSuffix(s, "hf")
}

// FindPublished returns the published model one of names (a Hugging Face id, a directory or file
// name) stands for, by its base name (case, '-', '_', a trailing -hf, a weights extension and a GGUF
// type suffix do not matter; "othello" names Othello-GPT), or nil.
func FindPublished(names ...string) *Published {
	for _, n := range names {
		k := normName(n)
		if k == "" {
			continue
		}
		for _, p := range PublishedModels {
			if normName(p.Model) == k || k == "othello" && strings.Contains(p.Model, "Othello") {
				return p
			}
		}
	}
	return nil
}

// Comparison is a run's counts beside the published ones: totals per class and, where published, per
// layer.
type Comparison struct {
	Model      string          `json:"model"`
	Source     string          `json:"source"`
	Equal      int             `json:"equal"` // rows whose counts agree
	Rows       []ComparisonRow `json:"rows"`
	MaxDiff    int64           `json:"max_abs_diff"`
	Processing Processing      `json:"processing"` // the run's; the paper's was tl
}

// ComparisonRow is one count: Layer -1 for the model's total.
type ComparisonRow struct {
	Layer int    `json:"layer"`
	Class string `json:"class"`
	WCOS  int64  `json:"wcos"`
	Paper int64  `json:"paper"`
}

// Fits says why a model of dims d cannot be the published one, if it cannot.
func (p *Published) Fits(d Dims) error {
	n := int64(d.NLayers) * int64(d.DMLP)
	if n != p.Neurons() || p.Layers > 0 && (p.Layers != d.NLayers || p.DMLP != d.DMLP) || p.Vanilla != d.Vanilla {
		kind := map[bool]string{true: "vanilla", false: "gated"}
		shape := fmt.Sprintf("%d neurons", p.Neurons())
		if p.Layers > 0 {
			shape += fmt.Sprintf(" in %d layers", p.Layers)
		}
		return fmt.Errorf("%s has %s (%s), this model %d in %d layers (%s)", p.Model, shape, kind[p.Vanilla], n, d.NLayers, kind[d.Vanilla])
	}
	return nil
}

// ComparePublished compares the run with p. It refuses a run whose neurons are not the published
// model's (another shape, or only some layers analysed).
func (r *Result) ComparePublished(p *Published) (*Comparison, error) {
	if len(r.Layers) != r.Dims.NLayers {
		return nil, fmt.Errorf("%s: only %d of %d layers analysed; the published counts are for all", p.Model, len(r.Layers), r.Dims.NLayers)
	}
	d := r.Dims
	d.Vanilla = !r.gated()
	if err := p.Fits(d); err != nil {
		return nil, err
	}
	src := "paper-spec §8.1: RES:results/" + p.Model + "/refactored/table.tex"
	if p.Vanilla {
		src = "paper-spec §8.1: RES:results/" + p.Model + "/table.tex"
	}
	c := &Comparison{Model: p.Model, Source: src, Processing: r.Options.Processing}
	add := func(layer int, cl Class, w, pub int64) {
		c.Rows = append(c.Rows, ComparisonRow{Layer: layer, Class: cl.String(), WCOS: w, Paper: pub})
		if w == pub {
			c.Equal++
		}
		c.MaxDiff = max(c.MaxDiff, w-pub, pub-w)
	}
	tot := r.Totals()
	for _, cl := range r.tableClasses() {
		add(-1, cl, tot[cl], p.Totals[cl])
	}
	for i, l := range r.Layers {
		switch {
		case p.PerLayer != nil:
			for _, cl := range AllClasses() {
				add(l, cl, r.Counts[i][cl], p.PerLayer[l][cl])
			}
		case p.Weakening != nil:
			add(l, Weakening, r.Counts[i][Weakening], p.Weakening[l])
		}
	}
	return c, nil
}

// layerName is a row's layer as the tables print it.
func (r ComparisonRow) layerName() string {
	if r.Layer < 0 {
		return "total"
	}
	return strconv.Itoa(r.Layer)
}

// writeCSV writes paper.csv: layer ("total" or the layer), class, wcos, paper, difference.
func (c *Comparison) writeCSV(path string) error {
	return table.Create(path, func(w *bufio.Writer) error {
		table.CSV(w, []string{"layer", "class", "wcos", "paper", "difference"})
		for _, r := range c.Rows {
			table.CSV(w, []string{r.layerName(), r.Class, strconv.FormatInt(r.WCOS, 10), strconv.FormatInt(r.Paper, 10), strconv.FormatInt(r.WCOS-r.Paper, 10)})
		}
		return nil
	})
}

// writeMD writes paper.md: the totals, then every row that differs.
func (c *Comparison) writeMD(path string) error {
	return table.Create(path, func(w *bufio.Writer) error {
		fmt.Fprintf(w, "RW class counts against the paper's for `%s` (%s; the paper used TransformerLens's processing, this run %s weights): %d of %d counts equal.\n\n",
			c.Model, c.Source, c.Processing, c.Equal, len(c.Rows))
		var rows, diff [][]string
		for _, r := range c.Rows {
			row := []string{r.layerName(), r.Class, strconv.FormatInt(r.WCOS, 10), strconv.FormatInt(r.Paper, 10), fmt.Sprintf("%+d", r.WCOS-r.Paper)}
			if r.Layer < 0 {
				rows = append(rows, row)
			} else if r.WCOS != r.Paper {
				diff = append(diff, row)
			}
		}
		header := []string{"layer", "class", "wcos", "paper", "difference"}
		align := []string{"---", "---", "---:", "---:", "---:"}
		table.Markdown(w, header, align, rows...)
		if len(diff) > 0 {
			w.WriteString("\nLayers that differ:\n\n")
			table.Markdown(w, header, align, diff...)
		}
		return nil
	})
}
