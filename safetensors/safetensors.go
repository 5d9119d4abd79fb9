package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
)

// maxHeader bounds the JSON header so a corrupt length cannot make us allocate gigabytes.
const maxHeader = 100 << 20

// dtypeSize is the element size of each supported dtype.
var dtypeSize = map[string]int64{
	"F64": 8, "F32": 4, "F16": 2, "BF16": 2,
	"I64": 8, "U64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
}

// DTypeSize is the element size of a supported dtype.
func DTypeSize(dtype string) (int64, bool) { s, ok := dtypeSize[dtype]; return s, ok }

// TensorInfo locates one tensor in a file. Begin and End are absolute file offsets.
type TensorInfo struct {
	Name       string
	DType      string
	Shape      []int64
	Begin, End int64
}

// NumElements is the product of the shape (1 for a scalar).
func (t TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is an open safetensors file.
type File struct {
	Path     string
	Metadata map[string]string
	Tensors  map[string]TensorInfo
	f        *os.File
}

// Open reads and validates the header of path. Every error names the file.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	sf, err := parse(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	sf.Path, sf.f = path, f
	return sf, nil
}

func parse(r io.ReaderAt, size int64) (*File, error) {
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("truncated safetensors file: no header length (%d bytes)", size)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxHeader || int64(n) > size-8 {
		return nil, fmt.Errorf("truncated or corrupt safetensors file: header length %d, file size %d", n, size)
	}
	hdr := make([]byte, n)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return nil, fmt.Errorf("truncated safetensors header: %v", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, fmt.Errorf("bad safetensors header: %v", err)
	}
	sf := &File{Tensors: make(map[string]TensorInfo, len(raw))}
	dataStart := 8 + int64(n)
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &sf.Metadata); err != nil {
				return nil, fmt.Errorf("bad __metadata__: %v", err)
			}
			continue
		}
		var e struct {
			DType   string  `json:"dtype"`
			Shape   []int64 `json:"shape"`
			Offsets []int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("tensor %q: bad header entry: %v", name, err)
		}
		es, ok := dtypeSize[e.DType]
		if !ok {
			return nil, fmt.Errorf("tensor %q: unsupported dtype %q", name, e.DType)
		}
		if len(e.Offsets) != 2 || e.Offsets[0] < 0 || e.Offsets[1] < e.Offsets[0] {
			return nil, fmt.Errorf("tensor %q: bad data_offsets %v", name, e.Offsets)
		}
		ti := TensorInfo{Name: name, DType: e.DType, Shape: e.Shape, Begin: dataStart + e.Offsets[0], End: dataStart + e.Offsets[1]}
		for _, d := range e.Shape {
			if d < 0 {
				return nil, fmt.Errorf("tensor %q: negative dimension in shape %v", name, e.Shape)
			}
		}
		if want := ti.NumElements() * es; want != ti.End-ti.Begin {
			return nil, fmt.Errorf("tensor %q: shape %v of %s needs %d bytes, data_offsets give %d", name, e.Shape, e.DType, want, ti.End-ti.Begin)
		}
		if ti.End > size {
			return nil, fmt.Errorf("truncated file: tensor %q ends at byte %d of %d", name, ti.End, size)
		}
		sf.Tensors[name] = ti
	}
	return sf, nil
}

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// Names lists the tensor names in file order.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Tensors))
	for n := range f.Tensors {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return f.Tensors[names[i]].Begin < f.Tensors[names[j]].Begin })
	return names
}

// Info returns the tensor's location or an error naming the file.
func (f *File) Info(name string) (TensorInfo, error) {
	t, ok := f.Tensors[name]
	if !ok {
		return t, fmt.Errorf("%s: no tensor %q", f.Path, name)
	}
	return t, nil
}

// Raw returns the tensor's bytes as stored.
func (f *File) Raw(name string) ([]byte, error) {
	t, err := f.Info(name)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, t.End-t.Begin)
	if _, err := f.f.ReadAt(buf, t.Begin); err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %v", f.Path, name, err)
	}
	return buf, nil
}

// read returns a tensor's location and bytes.
func (f *File) read(name string) (TensorInfo, []byte, error) {
	t, err := f.Info(name)
	if err != nil {
		return t, nil, err
	}
	raw, err := f.Raw(name)
	return t, raw, err
}

// Float32 returns a floating-point tensor converted to float32.
func (f *File) Float32(name string) ([]float32, error) {
	t, raw, err := f.read(name)
	if err != nil {
		return nil, err
	}
	out, err := ToFloat32(t.DType, raw)
	if err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %v", f.Path, name, err)
	}
	return out, nil
}

// Float64 returns a floating-point tensor as float64 (F64 exactly).
func (f *File) Float64(name string) ([]float64, error) {
	t, raw, err := f.read(name)
	if err != nil {
		return nil, err
	}
	if t.DType == "F64" {
		out := make([]float64, len(raw)/8)
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
		}
		return out, nil
	}
	v, err := f.Float32(name)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out, nil
}

// Int64 returns an integer tensor (I64, U64 as its bits, I32, I8) as int64.
func (f *File) Int64(name string) ([]int64, error) {
	t, raw, err := f.read(name)
	if err != nil {
		return nil, err
	}
	var out []int64
	switch t.DType {
	case "I64", "U64":
		out = make([]int64, len(raw)/8)
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	case "I32":
		out = make([]int64, len(raw)/4)
		for i := range out {
			out[i] = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
		}
	case "I8":
		out = make([]int64, len(raw))
		for i := range out {
			out[i] = int64(int8(raw[i]))
		}
	default:
		return nil, fmt.Errorf("%s: tensor %q: dtype %s is not an integer type", f.Path, name, t.DType)
	}
	return out, nil
}

// Int32 returns an integer tensor as int32, failing on values that do not fit.
func (f *File) Int32(name string) ([]int32, error) {
	v, err := f.Int64(name)
	if err != nil {
		return nil, err
	}
	out := make([]int32, len(v))
	for i, x := range v {
		if x != int64(int32(x)) {
			return nil, fmt.Errorf("%s: tensor %q: value %d does not fit int32", f.Path, name, x)
		}
		out[i] = int32(x)
	}
	return out, nil
}

// ToFloat32 converts little-endian F32, F16, BF16 or F64 data to float32.
func ToFloat32(dtype string, raw []byte) ([]float32, error) {
	switch dtype {
	case "F32":
		out := make([]float32, len(raw)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		return out, nil
	case "BF16":
		out := make([]float32, len(raw)/2)
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(raw[2*i:])) << 16)
		}
		return out, nil
	case "F16":
		out := make([]float32, len(raw)/2)
		for i := range out {
			out[i] = F16ToF32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
		return out, nil
	case "F64":
		out := make([]float32, len(raw)/8)
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		}
		return out, nil
	}
	return nil, fmt.Errorf("dtype %s is not a floating-point type", dtype)
}

// F32ToF16 rounds to the nearest IEEE half (ties to even), as numpy's astype(float16) does: overflow
// gives ±Inf, tiny values become subnormals or ±0, NaN stays NaN.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Subnormal half: value = m·2^-24, m = (1.mant)·2^(exp-126) = full >> (14-e).
		s := uint32(14 - e)
		if s > 24 {
			return sign
		}
		full := mant | 0x800000
		r := full >> s
		rem, half := full&(1<<s-1), uint32(1)<<(s-1)
		if rem > half || (rem == half && r&1 == 1) {
			r++ // may carry into the smallest normal, which is the right encoding
		}
		return sign | uint16(r)
	}
	h := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // a carry out of the mantissa bumps the exponent, up to Inf
	}
	return sign | uint16(h)
}

// F16ToF32 converts an IEEE half-precision value, subnormals, infinities and NaN included.
func F16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal half: value = mant · 2^-24.
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}
