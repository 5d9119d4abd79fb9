package convert

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/hf"
	"github.com/wcos-dev/wcos/safetensors"
)

// SynthOptions shapes a synthetic OLMo-1 model (random weights) for benchmarks: speed does not
// depend on the values, so an OLMo-7B-shaped file can be made where the real weights are not.
type SynthOptions struct {
	Layers, DModel, DMLP, Heads, Vocab int
	Context                            int     // max_position_embeddings (0: 4096)
	ClipQKV                            float32 // 0: none
	Tied                               bool
	Type                               string  // f32, f16, bf16, q8_0 or q4_k_m
	Std                                float32 // standard deviation of the uniform weights (0: 0.02)
	Seed                               uint64
	Threads                            int // ≤ 0: every CPU
	// TokenizerDir is a Hugging Face directory whose tokenizer.json (and config.json's token ids) give
	// the vocabulary, so the model tokenises text like the real one; it must fit Vocab.
	TokenizerDir string
	// From is an existing F32/F16/BF16 GGUF to quantise instead of generating (quantised types only):
	// the synthetic F16 file is made once and reused.
	From string
	Log  io.Writer
}

// OLMo7B is the shape of OLMo-7B-0424 (engine.md §7).
var OLMo7B = SynthOptions{Layers: 32, DModel: 4096, DMLP: 11008, Heads: 32, Vocab: 50304, ClipQKV: 8}

// synthBlock is the unit of generation: each block of a tensor has its own random stream, so the
// file does not depend on the number of threads.
const synthBlock = 1 << 20

// Synthetic writes a random-weight OLMo-1 GGUF to outPath (replaced only on success). Tensors are
// generated block by block on Threads goroutines and written one at a time, so memory stays at one
// tensor; quantised types go through llama.cpp's quantiser from a temporary F16 file (or From).
func Synthetic(outPath string, o SynthOptions) (Report, error) {
	start := time.Now()
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	logf := func(format string, a ...any) { fmt.Fprintf(logw, format+"\n", a...) }
	if o.Context <= 0 {
		o.Context = 4096
	}
	if o.Std <= 0 {
		o.Std = 0.02
	}
	if o.Threads <= 0 {
		o.Threads = runtime.NumCPU()
	}
	ot, ok := outTypes[o.Type]
	if !ok {
		return Report{}, fmt.Errorf("synth: unknown type %q (want one of %s)", o.Type, strings.Join(Types, ", "))
	}
	if o.From != "" {
		if ot.block == 1 {
			return Report{}, fmt.Errorf("synth: --from needs a quantised type, not %s", o.Type)
		}
		return synthQuantize(outPath, o, start, logf)
	}
	cfg := hf.Config{
		Architectures: []string{"OlmoForCausalLM"}, ModelType: "olmo", HiddenAct: "silu",
		HiddenSize: o.DModel, IntermediateSize: o.DMLP, NumHiddenLayers: o.Layers, NumAttentionHeads: o.Heads,
		NumKeyValueHeads: o.Heads, MaxPositionEmbeddings: o.Context, VocabSize: o.Vocab, RopeTheta: 10000,
		TieWordEmbeddings: o.Tied,
	}
	if o.ClipQKV > 0 {
		c := float64(o.ClipQKV)
		cfg.ClipQKV = &c
	}
	if err := checkConfig(&cfg); err != nil {
		return Report{}, fmt.Errorf("synth: %v", err)
	}
	if o.TokenizerDir == "" {
		return Report{}, errors.New("synth: no tokenizer directory")
	}
	tok, err := hf.LoadTokenizer(o.TokenizerDir)
	if err != nil {
		return Report{}, err
	}
	// The special-token ids of the tokenizer's model (OLMo: eos, pad), if its config.json says.
	if b, err := os.ReadFile(filepath.Join(o.TokenizerDir, "config.json")); err == nil {
		var tc hf.Config
		if json.Unmarshal(b, &tc) == nil {
			cfg.BOSTokenID, cfg.EOSTokenID, cfg.PadTokenID = tc.BOSTokenID, tc.EOSTokenID, tc.PadTokenID
		}
	}
	name := fmt.Sprintf("synthetic-olmo-%dL-%d-%d", o.Layers, o.DModel, o.DMLP)
	kvs, err := metadata(&cfg, tok, name, ot.fileType)
	if err != nil {
		return Report{}, fmt.Errorf("synth: %v", err)
	}
	plan := synthPlan(&cfg)
	rep := Report{Type: o.Type, SourceDType: "random", Layers: o.Layers, VocabSize: o.Vocab, Tied: o.Tied, Tensors: len(plan)}
	for _, p := range plan {
		rep.Params += p.rows * p.cols
	}

	out, err := createTemp(outPath)
	if err != nil {
		return Report{}, err
	}
	defer out.abort()
	if ot.block == 1 {
		logf("synth: %s, %.2fB parameters, %s, seed %d, %d threads → %s", name, float64(rep.Params)/1e9, o.Type, o.Seed, o.Threads, outPath)
		if err := writeSynthetic(out, kvs, plan, ot.ggml, o); err != nil {
			return Report{}, fmt.Errorf("%s: %w", outPath, err)
		}
	} else {
		dir, base := filepath.Split(out.Name())
		f, err := os.CreateTemp(dir, base+".f16-*")
		if err != nil {
			return Report{}, err
		}
		defer os.Remove(f.Name())
		logf("synth: %s, %.2fB parameters, F16 (for %s), seed %d, %d threads → %s", name, float64(rep.Params)/1e9, o.Type, o.Seed, o.Threads, f.Name())
		err = writeSynthetic(f, kvs, plan, typeF16, o)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return Report{}, fmt.Errorf("%s: %w", f.Name(), err)
		}
		src := f.Name()
		t0 := time.Now()
		if err := bindings.Quantize(src, out.Name(), o.Type, o.Threads); err != nil {
			return Report{}, fmt.Errorf("%s: %w", outPath, err)
		}
		logf("synth: llama_model_quantize %s to %s with %d threads: %.2fs", src, o.Type, o.Threads, time.Since(t0).Seconds())
	}
	return finishSynth(out, rep, start, logf)
}

// synthQuantize quantises the existing GGUF o.From into outPath.
func synthQuantize(outPath string, o SynthOptions, start time.Time, logf func(string, ...any)) (Report, error) {
	out, err := createTemp(outPath)
	if err != nil {
		return Report{}, err
	}
	defer out.abort()
	if err := bindings.Quantize(o.From, out.Name(), o.Type, o.Threads); err != nil {
		return Report{}, fmt.Errorf("%s: %w", outPath, err)
	}
	logf("synth: llama_model_quantize %s to %s with %d threads: %.2fs", o.From, o.Type, o.Threads, time.Since(start).Seconds())
	return finishSynth(out, Report{Type: o.Type, SourceDType: o.From}, start, logf)
}

// finishSynth fills the report from the written file and commits it.
func finishSynth(out *tempFile, rep Report, start time.Time, logf func(string, ...any)) (Report, error) {
	g, err := readGGUFFile(out.Name())
	if err != nil {
		return Report{}, err
	}
	rep.Tensors = len(g.Tensors)
	rep.TypeCounts = map[string]int{}
	for _, t := range g.Tensors {
		rep.TypeCounts[typeName(t.Type)]++
	}
	if st, err := out.Stat(); err == nil {
		rep.Bytes = st.Size()
	}
	if err := out.commit(); err != nil {
		return Report{}, err
	}
	rep.Path, rep.Elapsed = out.path, time.Since(start)
	logf("synth: wrote %s: %d tensors %v, %.1f MiB in %.2fs", rep.Path, len(g.Tensors), rep.TypeCounts,
		float64(rep.Bytes)/(1<<20), rep.Elapsed.Seconds())
	return rep, nil
}

// synthPlan lists the tensors of OLMo-1 in the converter's order (planTensors), without sources.
func synthPlan(c *hf.Config) []tensorPlan {
	d, ff, v := int64(c.HiddenSize), int64(c.IntermediateSize), int64(c.VocabSize)
	plan := []tensorPlan{{name: "token_embd.weight", rows: v, cols: d}}
	if !c.TieWordEmbeddings {
		plan = append(plan, tensorPlan{name: "output.weight", rows: v, cols: d})
	}
	for l := range c.NumHiddenLayers {
		gp := fmt.Sprintf("blk.%d.", l)
		plan = append(plan,
			tensorPlan{name: gp + "attn_q.weight", rows: d, cols: d},
			tensorPlan{name: gp + "attn_k.weight", rows: d, cols: d},
			tensorPlan{name: gp + "attn_v.weight", rows: d, cols: d},
			tensorPlan{name: gp + "attn_output.weight", rows: d, cols: d},
			tensorPlan{name: gp + "ffn_gate.weight", rows: ff, cols: d},
			tensorPlan{name: gp + "ffn_up.weight", rows: ff, cols: d},
			tensorPlan{name: gp + "ffn_down.weight", rows: d, cols: ff},
		)
	}
	return plan
}

// writeSynthetic streams the GGUF with every tensor in typ (F32, F16 or BF16) filled with uniform values
// of standard deviation o.Std.
func writeSynthetic(w io.Writer, kvs []kv, plan []tensorPlan, typ uint32, o SynthOptions) error {
	elem := int64(4)
	if typ != typeF32 {
		elem = 2
	}
	var buf []byte
	ts := make([]tensorOut, len(plan))
	for i, p := range plan {
		dims := []uint64{uint64(p.cols), uint64(p.rows)}
		size, _ := tensorBytes(typ, dims)
		ts[i] = tensorOut{Name: p.name, Type: typ, Dims: dims, Size: size, Write: func(w io.Writer) error {
			if int64(cap(buf)) < size {
				buf = make([]byte, size)
			}
			b := buf[:size]
			fillRandom(b, elem, typ, o.Std, o.Seed, uint64(i), o.Threads)
			_, err := w.Write(b)
			return err
		}}
	}
	return writeGGUF(w, kvs, ts)
}

// fillRandom fills b with values of element size elem, block by block in parallel; block k of tensor
// t draws from the stream seeded by (seed, t, k).
func fillRandom(b []byte, elem int64, typ uint32, std float32, seed, tensor uint64, threads int) {
	n := int64(len(b)) / elem
	blocks := (n + synthBlock - 1) / synthBlock
	a := std * float32(math.Sqrt(3)) // uniform on [-a, a] has standard deviation std
	next := make(chan int64, blocks)
	for k := range blocks {
		next <- k
	}
	close(next)
	var wg sync.WaitGroup
	for range min(int64(threads), blocks) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				s := splitmix(splitmix(seed^0x5eed) ^ splitmix(tensor<<32|uint64(k)))
				lo, hi := k*synthBlock, min((k+1)*synthBlock, n)
				for j := lo; j < hi; j++ {
					// xorshift64*: 24 random bits give a uniform value in [-a, a).
					s ^= s >> 12
					s ^= s << 25
					s ^= s >> 27
					r := s * 0x2545f4914f6cdd1d
					v := a * (float32(r>>40)*(2.0/(1<<24)) - 1)
					switch typ {
					case typeF32:
						binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(v))
					case typeF16:
						binary.LittleEndian.PutUint16(b[2*j:], safetensors.F32ToF16(v))
					default:
						binary.LittleEndian.PutUint16(b[2*j:], f32ToBF16(v))
					}
				}
			}
		}()
	}
	wg.Wait()
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// tempFile is written beside path and renamed into place on commit, like internal/atomicfile but
// without its fsync: a 14 GB benchmark file would wait for the disk, and a lost one is made again.
type tempFile struct {
	*os.File
	path string
	done bool
}

func createTemp(path string) (*tempFile, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &tempFile{File: f, path: path}, nil
}

func (f *tempFile) commit() error {
	f.done = true
	err := f.Close()
	if err == nil {
		err = os.Rename(f.Name(), f.path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

func (f *tempFile) abort() {
	if !f.done {
		f.done = true
		f.Close()
		os.Remove(f.Name())
	}
}
