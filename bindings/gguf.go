package bindings

// #include "bindings.h"
import "C"

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"sync"
	"unsafe"
)

// GGUF is an opened GGUF file: its metadata is parsed by ggml's gguf reader (tensor data stay on disk
// until asked for), and tensors are dequantised to float32 with ggml's own to_float of their type, so
// every type ggml can read (F32, F16, BF16, Q8_0, K-quants, …) is supported.
type GGUF struct {
	path string
	size int64
	f    *os.File
	ctx  *C.struct_gguf_context
	meta *C.struct_ggml_context
	mu   sync.Mutex // guards Close against concurrent readers
}

// GGUFTensorInfo describes one tensor: Shape is row-major, outermost first (ggml's ne reversed, i.e.
// the Hugging Face shape: blk.L.ffn_gate.weight is [n_ff, d_model]).
type GGUFTensorInfo struct {
	Name  string
	Type  string // ggml type name: "f32", "f16", "bf16", "q8_0", "q4_K", …
	Shape []int64
}

// OpenGGUF parses path's header. Errors name the file.
func OpenGGUF(path string) (*GGUF, error) {
	initBackend()
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s: is a directory, not a GGUF file", path)
	}
	// ggml's parser trusts the lengths in the header (a huge string length makes it throw a C++
	// exception, which aborts the process), so the structure is checked against the file size first.
	if err := checkGGUFHeader(f, st.Size()); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: not a readable GGUF file: %v", path, err)
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var meta *C.struct_ggml_context
	ctx := C.gguf_init_from_file(cpath, C.struct_gguf_init_params{no_alloc: true, ctx: &meta})
	if ctx == nil {
		f.Close()
		return nil, fmt.Errorf("%s: not a readable GGUF file", path)
	}
	g := &GGUF{path: path, size: st.Size(), f: f, ctx: ctx, meta: meta}
	// The header parser does not look at the data section; check every tensor lies inside the file so
	// a truncated download fails here and not halfway through an analysis.
	base := int64(C.gguf_get_data_offset(ctx))
	for i := C.int64_t(0); i < C.gguf_get_n_tensors(ctx); i++ {
		end := base + int64(C.gguf_get_tensor_offset(ctx, i)) + int64(C.gguf_get_tensor_size(ctx, i))
		if end > g.size {
			name := C.GoString(C.gguf_get_tensor_name(ctx, i))
			g.Close()
			return nil, fmt.Errorf("%s: truncated: tensor %q ends at byte %d of %d", path, name, end, st.Size())
		}
	}
	return g, nil
}

// Close releases the file and ggml's metadata.
func (g *GGUF) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ctx != nil {
		C.gguf_free(g.ctx)
		g.ctx = nil
	}
	if g.meta != nil {
		C.ggml_free(g.meta)
		g.meta = nil
	}
	if g.f != nil {
		g.f.Close()
		g.f = nil
	}
	return nil
}

// Path is the file name given to OpenGGUF.
func (g *GGUF) Path() string { return g.path }

// Tensors lists every tensor, sorted by name.
func (g *GGUF) Tensors() []GGUFTensorInfo {
	n := int(C.gguf_get_n_tensors(g.ctx))
	out := make([]GGUFTensorInfo, 0, n)
	for i := 0; i < n; i++ {
		name := C.GoString(C.gguf_get_tensor_name(g.ctx, C.int64_t(i)))
		if info, err := g.Info(name); err == nil {
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Has reports whether the file holds the tensor.
func (g *GGUF) Has(name string) bool {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return C.gguf_find_tensor(g.ctx, cname) >= 0
}

func (g *GGUF) tensor(name string) (int64, *C.struct_ggml_tensor, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	id := C.gguf_find_tensor(g.ctx, cname)
	if id < 0 {
		return 0, nil, fmt.Errorf("%s: no tensor %q", g.path, name)
	}
	t := C.ggml_get_tensor(g.meta, cname)
	if t == nil {
		return 0, nil, fmt.Errorf("%s: tensor %q has no metadata", g.path, name)
	}
	return int64(id), t, nil
}

// Info returns a tensor's type and row-major shape.
func (g *GGUF) Info(name string) (GGUFTensorInfo, error) {
	_, t, err := g.tensor(name)
	if err != nil {
		return GGUFTensorInfo{}, err
	}
	nd := int(C.ggml_n_dims(t))
	shape := make([]int64, nd)
	for d := 0; d < nd; d++ {
		shape[nd-1-d] = int64(t.ne[d])
	}
	return GGUFTensorInfo{Name: name, Type: C.GoString(C.ggml_type_name(t._type)), Shape: shape}, nil
}

// Float32 reads one tensor dequantised to float32, row-major, with its row-major shape. Rows are
// converted in parallel (one goroutine per CPU).
func (g *GGUF) Float32(name string) ([]float32, []int64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ctx == nil {
		return nil, nil, fmt.Errorf("%s: closed", g.path)
	}
	id, t, err := g.tensor(name)
	if err != nil {
		return nil, nil, err
	}
	typ := t._type
	ne0 := int64(t.ne[0])
	nrows := int64(C.ggml_nrows(t))
	rowBytes := int64(C.ggml_row_size(typ, C.int64_t(ne0)))
	size := int64(C.gguf_get_tensor_size(g.ctx, C.int64_t(id)))
	if rowBytes*nrows != size {
		return nil, nil, fmt.Errorf("%s: tensor %q: %d bytes for %d rows of %d %s elements", g.path, name, size, nrows, ne0, C.GoString(C.ggml_type_name(typ)))
	}
	off := int64(C.gguf_get_data_offset(g.ctx)) + int64(C.gguf_get_tensor_offset(g.ctx, C.int64_t(id)))
	raw := make([]byte, size)
	if _, err := g.f.ReadAt(raw, off); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, nil, fmt.Errorf("%s: tensor %q: %v", g.path, name, err)
	}
	out := make([]float32, ne0*nrows)
	if len(out) == 0 {
		info, _ := g.Info(name)
		return out, info.Shape, nil
	}
	workers := int64(runtime.GOMAXPROCS(0))
	if workers > nrows {
		workers = nrows
	}
	var wg sync.WaitGroup
	errs := make([]C.int, workers)
	for w := int64(0); w < workers; w++ {
		r0, r1 := nrows*w/workers, nrows*(w+1)/workers
		if r0 == r1 {
			continue
		}
		wg.Add(1)
		go func(w, r0, r1 int64) {
			defer wg.Done()
			errs[w] = C.wcos_to_float(C.int(typ), unsafe.Pointer(&raw[r0*rowBytes]),
				(*C.float)(unsafe.Pointer(&out[r0*ne0])), C.int64_t((r1-r0)*ne0))
		}(w, r0, r1)
	}
	wg.Wait()
	for _, e := range errs {
		if e != 0 {
			return nil, nil, fmt.Errorf("%s: tensor %q: ggml cannot convert type %s to float32", g.path, name, C.GoString(C.ggml_type_name(typ)))
		}
	}
	info, _ := g.Info(name)
	return out, info.Shape, nil
}

// Uint reads an integer metadata value (any GGUF integer type).
func (g *GGUF) Uint(key string) (uint64, error) {
	id, err := g.key(key)
	if err != nil {
		return 0, err
	}
	switch C.gguf_get_kv_type(g.ctx, id) {
	case C.GGUF_TYPE_UINT8:
		return uint64(C.gguf_get_val_u8(g.ctx, id)), nil
	case C.GGUF_TYPE_UINT16:
		return uint64(C.gguf_get_val_u16(g.ctx, id)), nil
	case C.GGUF_TYPE_UINT32:
		return uint64(C.gguf_get_val_u32(g.ctx, id)), nil
	case C.GGUF_TYPE_UINT64:
		return uint64(C.gguf_get_val_u64(g.ctx, id)), nil
	case C.GGUF_TYPE_INT8:
		return nonneg(g, key, int64(C.gguf_get_val_i8(g.ctx, id)))
	case C.GGUF_TYPE_INT16:
		return nonneg(g, key, int64(C.gguf_get_val_i16(g.ctx, id)))
	case C.GGUF_TYPE_INT32:
		return nonneg(g, key, int64(C.gguf_get_val_i32(g.ctx, id)))
	case C.GGUF_TYPE_INT64:
		return nonneg(g, key, int64(C.gguf_get_val_i64(g.ctx, id)))
	}
	return 0, fmt.Errorf("%s: metadata %q is not an integer", g.path, key)
}

func nonneg(g *GGUF, key string, v int64) (uint64, error) {
	if v < 0 {
		return 0, fmt.Errorf("%s: metadata %q is negative (%d)", g.path, key, v)
	}
	return uint64(v), nil
}

// String reads a string metadata value.
func (g *GGUF) String(key string) (string, error) {
	id, err := g.key(key)
	if err != nil {
		return "", err
	}
	if C.gguf_get_kv_type(g.ctx, id) != C.GGUF_TYPE_STRING {
		return "", fmt.Errorf("%s: metadata %q is not a string", g.path, key)
	}
	return C.GoString(C.gguf_get_val_str(g.ctx, id)), nil
}

func (g *GGUF) key(key string) (C.int64_t, error) {
	ckey := C.CString(key)
	defer C.free(unsafe.Pointer(ckey))
	id := C.gguf_find_key(g.ctx, ckey)
	if id < 0 {
		return 0, fmt.Errorf("%s: no metadata %q", g.path, key)
	}
	return id, nil
}

// GGUFDims are the transformer sizes from <arch>.block_count, .embedding_length, .feed_forward_length.
type GGUFDims struct {
	Arch     string
	NLayer   int
	DModel   int
	NFF      int
	FileType int // general.file_type (llama_ftype: 0 F32, 1 F16, 7 Q8_0, 15 Q4_K_M, …); -1 if absent
}

// Dims reads general.architecture and that architecture's layer count, d_model and n_ff
// (olmo.block_count, olmo.embedding_length, olmo.feed_forward_length for OLMo).
func (g *GGUF) Dims() (GGUFDims, error) {
	arch, err := g.String("general.architecture")
	if err != nil {
		return GGUFDims{}, err
	}
	d := GGUFDims{Arch: arch, FileType: -1}
	for _, kv := range []struct {
		key string
		dst *int
	}{{".block_count", &d.NLayer}, {".embedding_length", &d.DModel}, {".feed_forward_length", &d.NFF}} {
		v, err := g.Uint(arch + kv.key)
		if err != nil {
			return d, err
		}
		*kv.dst = int(v)
	}
	if v, err := g.Uint("general.file_type"); err == nil {
		d.FileType = int(v)
	}
	return d, nil
}

// ReadGGUFTensors reads the named tensors of a GGUF file as float32 with their row-major shapes.
func ReadGGUFTensors(path string, names []string) (map[string][]float32, map[string][]int64, error) {
	g, err := OpenGGUF(path)
	if err != nil {
		return nil, nil, err
	}
	defer g.Close()
	data := make(map[string][]float32, len(names))
	shapes := make(map[string][]int64, len(names))
	for _, n := range names {
		v, s, err := g.Float32(n)
		if err != nil {
			return nil, nil, err
		}
		data[n], shapes[n] = v, s
	}
	return data, shapes, nil
}

// ggufScalarSize is the byte size of each fixed-size GGUF value type (gguf.h enum gguf_type).
var ggufScalarSize = map[uint32]int64{0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

const (
	ggufTypeString = 8
	ggufTypeArray  = 9
	ggufMaxDims    = 4 // GGML_MAX_DIMS
)

// checkGGUFHeader walks the key-value and tensor-info sections of a GGUF (v2/v3) and checks every
// count and length against the bytes left in the file, without allocating for them.
func checkGGUFHeader(r io.ReaderAt, size int64) error {
	h := &hdrReader{r: bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 1<<16), left: size}
	var magic [4]byte
	if err := h.read(magic[:]); err != nil || string(magic[:]) != "GGUF" {
		return errors.New("bad magic")
	}
	version := h.u32()
	if version != 2 && version != 3 {
		return fmt.Errorf("unsupported version %d", version)
	}
	nTensors, nKV := h.u64(), h.u64()
	// Every tensor info takes at least 8+4+8+4+8 bytes, every key-value 8+4 bytes.
	if h.err == nil && (nTensors > uint64(h.left)/32 || nKV > uint64(h.left)/12) {
		return fmt.Errorf("%d tensors and %d keys cannot fit in %d bytes", nTensors, nKV, size)
	}
	for i := uint64(0); i < nKV && h.err == nil; i++ {
		h.str()
		typ := h.u32()
		if typ == ggufTypeArray {
			et, n := h.u32(), h.u64()
			switch {
			case h.err != nil:
			case et == ggufTypeString:
				if n > uint64(h.left)/8 {
					h.fail("array of %d strings", n)
				}
				for j := uint64(0); j < n && h.err == nil; j++ {
					h.str()
				}
			default:
				sz, ok := ggufScalarSize[et]
				if !ok {
					h.fail("array of type %d", et)
				} else if n > uint64(h.left)/uint64(sz) {
					h.fail("array of %d values", n)
				} else {
					h.skip(int64(n) * sz)
				}
			}
		} else if typ == ggufTypeString {
			h.str()
		} else if sz, ok := ggufScalarSize[typ]; ok {
			h.skip(sz)
		} else {
			h.fail("value type %d", typ)
		}
	}
	for i := uint64(0); i < nTensors && h.err == nil; i++ {
		h.str()
		nd := h.u32()
		if nd == 0 || nd > ggufMaxDims {
			h.fail("tensor with %d dimensions", nd)
			break
		}
		elems := uint64(1)
		for d := uint32(0); d < nd; d++ {
			ne := h.u64()
			if ne > 1<<40 || (ne > 0 && elems > (1<<50)/ne) {
				h.fail("tensor dimension %d", ne)
			}
			elems *= ne
		}
		h.u32() // type: ggml checks it
		h.u64() // offset: checked against the file size after parsing
	}
	return h.err
}

type hdrReader struct {
	r    *bufio.Reader
	left int64
	err  error
	buf  [8]byte
}

func (h *hdrReader) fail(format string, a ...any) {
	if h.err == nil {
		h.err = fmt.Errorf(format, a...)
	}
}

func (h *hdrReader) read(b []byte) error {
	if h.err != nil {
		return h.err
	}
	if int64(len(b)) > h.left {
		h.err = io.ErrUnexpectedEOF
		return h.err
	}
	if _, err := io.ReadFull(h.r, b); err != nil {
		h.err = io.ErrUnexpectedEOF
		return h.err
	}
	h.left -= int64(len(b))
	return nil
}

func (h *hdrReader) skip(n int64) {
	if h.err != nil {
		return
	}
	if n < 0 || n > h.left {
		h.err = io.ErrUnexpectedEOF
		return
	}
	if _, err := h.r.Discard(int(n)); err != nil {
		h.err = io.ErrUnexpectedEOF
		return
	}
	h.left -= n
}

func (h *hdrReader) u32() uint32 {
	if h.read(h.buf[:4]) != nil {
		return 0
	}
	return binary.LittleEndian.Uint32(h.buf[:4])
}

func (h *hdrReader) u64() uint64 {
	if h.read(h.buf[:8]) != nil {
		return 0
	}
	return binary.LittleEndian.Uint64(h.buf[:8])
}

func (h *hdrReader) str() {
	n := h.u64()
	if h.err == nil && n > uint64(h.left) {
		h.fail("string of %d bytes", n)
		return
	}
	h.skip(int64(n))
}
