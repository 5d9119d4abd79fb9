package convert

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
)

// GGUF v3 value types (ggml gguf.h).
const (
	ggufUint8   = 0
	ggufInt8    = 1
	ggufUint16  = 2
	ggufInt16   = 3
	ggufUint32  = 4
	ggufInt32   = 5
	ggufFloat32 = 6
	ggufBool    = 7
	ggufString  = 8
	ggufArray   = 9
	ggufUint64  = 10
	ggufInt64   = 11
	ggufFloat64 = 12
)

// ggml tensor types used here (ggml.h enum ggml_type).
const (
	typeF32  uint32 = 0
	typeF16  uint32 = 1
	typeQ4_0 uint32 = 2
	typeQ4_1 uint32 = 3
	typeQ5_0 uint32 = 6
	typeQ5_1 uint32 = 7
	typeQ8_0 uint32 = 8
	typeQ2_K uint32 = 10
	typeQ3_K uint32 = 11
	typeQ4_K uint32 = 12
	typeQ5_K uint32 = 13
	typeQ6_K uint32 = 14
	typeBF16 uint32 = 30
)

const (
	ggufMagic   = 0x46554747 // "GGUF" little-endian
	ggufVersion = 3
	alignment   = 32
)

// typeName and blockSize/typeSize cover the types the converter writes or llama.cpp's quantiser picks.
var ggmlTypes = map[uint32]struct {
	name       string
	block, len int64 // elements per block, bytes per block
}{
	typeF32: {"F32", 1, 4}, typeF16: {"F16", 1, 2}, typeBF16: {"BF16", 1, 2},
	typeQ4_0: {"Q4_0", 32, 18}, typeQ4_1: {"Q4_1", 32, 20}, typeQ5_0: {"Q5_0", 32, 22}, typeQ5_1: {"Q5_1", 32, 24},
	typeQ8_0: {"Q8_0", 32, 34}, typeQ2_K: {"Q2_K", 256, 84}, typeQ3_K: {"Q3_K", 256, 110},
	typeQ4_K: {"Q4_K", 256, 144}, typeQ5_K: {"Q5_K", 256, 176}, typeQ6_K: {"Q6_K", 256, 210},
}

func typeName(t uint32) string {
	if g, ok := ggmlTypes[t]; ok {
		return g.name
	}
	return fmt.Sprintf("type%d", t)
}

// tensorBytes is the data size of a tensor of type t and dims ne (ggml order); ok is false for an
// unknown type or a row length that is not a whole number of blocks.
func tensorBytes(t uint32, ne []uint64) (int64, bool) {
	g, ok := ggmlTypes[t]
	if !ok || len(ne) == 0 || int64(ne[0])%g.block != 0 {
		return 0, false
	}
	n := int64(ne[0]) / g.block * g.len
	for _, d := range ne[1:] {
		n *= int64(d)
	}
	return n, true
}

// kv is one metadata pair. Values must be uint32, int32, float32, bool, string, []string or []int32:
// llama.cpp rejects a key of the wrong type, so the writer accepts nothing looser.
type kv struct {
	Key   string
	Value any
}

// tensorOut is one tensor to write; Write must produce exactly Size bytes.
type tensorOut struct {
	Name  string
	Type  uint32
	Dims  []uint64 // ggml order: ne0 (row length) first
	Size  int64
	Write func(w io.Writer) error
}

func pad(n int64) int64 { return (n + alignment - 1) / alignment * alignment }

// writeGGUF streams a GGUF v3 file: header, metadata, tensor infos, then each tensor's data aligned
// to 32 bytes. Tensor data is produced one tensor at a time, so memory stays at one tensor.
func writeGGUF(w io.Writer, kvs []kv, tensors []tensorOut) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	e := &encoder{w: bw}
	e.u32(ggufMagic)
	e.u32(ggufVersion)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(kvs)))
	for _, p := range kvs {
		e.str(p.Key)
		if err := e.value(p.Value); err != nil {
			return fmt.Errorf("key %s: %v", p.Key, err)
		}
	}
	var off int64
	for _, t := range tensors {
		if want, ok := tensorBytes(t.Type, t.Dims); !ok || want != t.Size {
			return fmt.Errorf("tensor %s: %s %v needs %d bytes, have %d", t.Name, typeName(t.Type), t.Dims, want, t.Size)
		}
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(t.Type)
		e.u64(uint64(off))
		off = pad(off + t.Size)
	}
	e.zeros(pad(e.n) - e.n)
	if e.err != nil {
		return e.err
	}
	for _, t := range tensors {
		cw := &countWriter{w: bw}
		if err := t.Write(cw); err != nil {
			return fmt.Errorf("tensor %s: %w", t.Name, err)
		}
		if cw.n != t.Size {
			return fmt.Errorf("tensor %s: wrote %d bytes, expected %d", t.Name, cw.n, t.Size)
		}
		e.n += cw.n
		e.zeros(pad(t.Size) - t.Size)
		if e.err != nil {
			return e.err
		}
	}
	return bw.Flush()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// encoder writes little-endian values and remembers the first error.
type encoder struct {
	w   io.Writer
	n   int64
	err error
	buf [8]byte
}

func (e *encoder) write(b []byte) {
	if e.err != nil {
		return
	}
	n, err := e.w.Write(b)
	e.n += int64(n)
	e.err = err
}

func (e *encoder) u32(v uint32) { binary.LittleEndian.PutUint32(e.buf[:4], v); e.write(e.buf[:4]) }
func (e *encoder) u64(v uint64) { binary.LittleEndian.PutUint64(e.buf[:8], v); e.write(e.buf[:8]) }
func (e *encoder) str(s string) { e.u64(uint64(len(s))); e.write([]byte(s)) }
func (e *encoder) zeros(n int64) {
	if n > 0 {
		e.write(make([]byte, n))
	}
}

func (e *encoder) value(v any) error {
	switch x := v.(type) {
	case uint32:
		e.u32(ggufUint32)
		e.u32(x)
	case int32:
		e.u32(ggufInt32)
		e.u32(uint32(x))
	case float32:
		e.u32(ggufFloat32)
		e.u32(math.Float32bits(x))
	case bool:
		e.u32(ggufBool)
		if x {
			e.write([]byte{1})
		} else {
			e.write([]byte{0})
		}
	case string:
		e.u32(ggufString)
		e.str(x)
	case []string:
		e.u32(ggufArray)
		e.u32(ggufString)
		e.u64(uint64(len(x)))
		for _, s := range x {
			e.str(s)
		}
	case []int32:
		e.u32(ggufArray)
		e.u32(ggufInt32)
		e.u64(uint64(len(x)))
		for _, i := range x {
			e.u32(uint32(i))
		}
	default:
		return fmt.Errorf("unsupported metadata type %T", v)
	}
	return nil
}

// ggufFile is a parsed GGUF header. Metadata values keep their GGUF type: uint8…float64, bool,
// string, or []any for arrays (with the element type in ArrayType).
type ggufFile struct {
	Version    uint32
	KV         map[string]any
	KVType     map[string]uint32 // GGUF type of each key
	ArrayType  map[string]uint32 // element type of array keys
	Keys       []string          // in file order
	Tensors    []ggufTensor
	HeaderSize int64 // bytes of header, before the alignment padding
	DataStart  int64 // absolute offset of the data section
}

// ggufTensor is one tensor info; NameAt is the absolute file offset of its name bytes.
type ggufTensor struct {
	Name   string
	NameAt int64
	Dims   []uint64
	Type   uint32
	Offset int64 // relative to DataStart
}

// Size is the tensor's data size in bytes (0 for a type this package does not know).
func (t ggufTensor) Size() int64 { n, _ := tensorBytes(t.Type, t.Dims); return n }

// readGGUFFile parses the header of a GGUF file.
func readGGUFFile(path string) (*ggufFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	g, err := readGGUF(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// maxGGUFCount bounds counts and lengths so a corrupt header cannot make the reader allocate wildly.
const maxGGUFCount = 1 << 28

// readGGUF parses a GGUF v2/v3 header from r.
func readGGUF(r io.Reader) (*ggufFile, error) {
	d := &decoder{r: bufio.NewReaderSize(r, 1<<16)}
	if m := d.u32(); d.err == nil && m != ggufMagic {
		return nil, fmt.Errorf("not a GGUF file (magic %#x)", m)
	}
	g := &ggufFile{Version: d.u32(), KV: map[string]any{}, KVType: map[string]uint32{}, ArrayType: map[string]uint32{}}
	if d.err == nil && g.Version != 2 && g.Version != 3 {
		return nil, fmt.Errorf("unsupported GGUF version %d", g.Version)
	}
	nt, nkv := d.u64(), d.u64()
	if nt > maxGGUFCount || nkv > maxGGUFCount {
		return nil, fmt.Errorf("implausible counts: %d tensors, %d keys", nt, nkv)
	}
	for i := uint64(0); i < nkv && d.err == nil; i++ {
		k := d.str()
		t := d.u32()
		if t == ggufArray {
			et, n := d.u32(), d.u64()
			if n > maxGGUFCount {
				return nil, fmt.Errorf("key %s: implausible array length %d", k, n)
			}
			arr := make([]any, 0, min(n, 1<<16))
			for j := uint64(0); j < n && d.err == nil; j++ {
				arr = append(arr, d.scalar(et))
			}
			g.KV[k], g.ArrayType[k] = arr, et
		} else {
			g.KV[k] = d.scalar(t)
		}
		if _, dup := g.KVType[k]; dup && d.err == nil {
			return nil, fmt.Errorf("duplicate key %s", k)
		}
		g.KVType[k] = t
		g.Keys = append(g.Keys, k)
	}
	for i := uint64(0); i < nt && d.err == nil; i++ {
		var t ggufTensor
		n := d.u64()
		t.NameAt = d.n
		t.Name = d.bytes(n)
		nd := d.u32()
		if nd > 4 {
			return nil, fmt.Errorf("tensor %s: %d dimensions", t.Name, nd)
		}
		for j := uint32(0); j < nd; j++ {
			t.Dims = append(t.Dims, d.u64())
		}
		t.Type = d.u32()
		t.Offset = int64(d.u64())
		g.Tensors = append(g.Tensors, t)
	}
	if d.err != nil {
		return nil, fmt.Errorf("truncated or corrupt header: %v", d.err)
	}
	align := int64(alignment)
	if a, ok := g.KV["general.alignment"].(uint32); ok && a > 0 {
		align = int64(a)
	}
	g.HeaderSize = d.n
	g.DataStart = (d.n + align - 1) / align * align
	return g, nil
}

type decoder struct {
	r   *bufio.Reader
	n   int64
	err error
	buf [8]byte
}

func (d *decoder) read(b []byte) {
	if d.err != nil {
		return
	}
	n, err := io.ReadFull(d.r, b)
	d.n += int64(n)
	if err != nil {
		d.err = err
	}
}

func (d *decoder) u8() uint8   { d.read(d.buf[:1]); return d.buf[0] }
func (d *decoder) u16() uint16 { d.read(d.buf[:2]); return binary.LittleEndian.Uint16(d.buf[:2]) }
func (d *decoder) u32() uint32 { d.read(d.buf[:4]); return binary.LittleEndian.Uint32(d.buf[:4]) }
func (d *decoder) u64() uint64 { d.read(d.buf[:8]); return binary.LittleEndian.Uint64(d.buf[:8]) }

func (d *decoder) bytes(n uint64) string {
	if n > maxGGUFCount {
		if d.err == nil {
			d.err = fmt.Errorf("implausible string length %d", n)
		}
		return ""
	}
	if n <= 1<<12 {
		b := make([]byte, n)
		d.read(b)
		return string(b)
	}
	// Grow with the data actually read, so a corrupt length cannot allocate up front.
	var sb strings.Builder
	m, err := io.CopyN(&sb, d.r, int64(n))
	d.n += m
	if err != nil && d.err == nil {
		d.err = err
	}
	return sb.String()
}

func (d *decoder) str() string { return d.bytes(d.u64()) }

func (d *decoder) scalar(t uint32) any {
	switch t {
	case ggufUint8:
		return d.u8()
	case ggufInt8:
		return int8(d.u8())
	case ggufUint16:
		return d.u16()
	case ggufInt16:
		return int16(d.u16())
	case ggufUint32:
		return d.u32()
	case ggufInt32:
		return int32(d.u32())
	case ggufFloat32:
		return math.Float32frombits(d.u32())
	case ggufBool:
		return d.u8() != 0
	case ggufString:
		return d.str()
	case ggufUint64:
		return d.u64()
	case ggufInt64:
		return int64(d.u64())
	case ggufFloat64:
		return math.Float64frombits(d.u64())
	}
	if d.err == nil {
		d.err = errors.New("unknown or nested metadata type " + fmt.Sprint(t))
	}
	return nil
}
