package torchpt

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/wcos-dev/wcos/safetensors"
)

// Tensor is one tensor of a state dict: a strided view (Offset and Stride in elements) of a storage.
type Tensor struct {
	DType  string // safetensors' dtype names: F32, F16, BF16, F64, I64, …
	Shape  []int64
	Stride []int64
	Offset int64

	storage *storage
}

// File is an opened torch.save file.
type File struct {
	Path    string
	Tensors map[string]*Tensor
	names   []string // in the state dict's order
	closer  io.Closer
	// storages open a storage's bytes by key; size is its length in bytes.
	storages map[string]storageData
}

// storageData is where a storage's bytes are: a zip entry, or a span of the legacy file.
type storageData struct {
	entry     *zip.File
	file      *os.File
	off, size int64
}

func (d storageData) len() int64 {
	if d.entry != nil {
		return int64(min(d.entry.UncompressedSize64, 1<<62))
	}
	return d.size
}

func (d storageData) open() (io.ReadCloser, error) {
	if d.entry != nil {
		return d.entry.Open()
	}
	return io.NopCloser(io.NewSectionReader(d.file, d.off, d.size)), nil
}

// IsTorch reports whether path starts like a torch.save file: a zip archive, or the legacy format's
// pickled magic number.
func IsTorch(path string) bool {
	r, err := os.Open(path)
	if err != nil {
		return false
	}
	defer r.Close()
	head := make([]byte, len(legacyMagic))
	n, _ := io.ReadFull(r, head)
	return n >= 4 && string(head[:4]) == "PK\x03\x04" || n == len(head) && bytes.Equal(head, legacyMagic)
}

// legacyMagic starts torch.save's format before torch 1.6: the pickled magic number
// 0x1950a86a20f9469cfc6c.
var legacyMagic = []byte{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8}

// maxEntry bounds the pickle read into memory.
const maxEntry = 1 << 30

// Open reads the file's pickle and checks every tensor against its storage. Errors are one line
// naming the file.
func Open(path string) (*File, error) {
	f, err := open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return f, nil
}

func open(path string) (*File, error) {
	r, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	head := make([]byte, len(legacyMagic))
	if _, err := io.ReadFull(r, head); err == nil && bytes.Equal(head, legacyMagic) {
		f, err := openLegacy(r)
		if err != nil {
			r.Close()
		}
		return f, err
	}
	st, err := r.Stat()
	r.Close()
	if err != nil {
		return nil, err
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("not a torch.save file: %v", err)
	}
	f, err := openZip(zr, st.Size())
	if err != nil {
		zr.Close()
		return nil, err
	}
	f.Path = path
	return f, nil
}

// openZip reads the format of torch ≥ 1.6 (a file of size bytes): <prefix>/data.pkl,
// <prefix>/data/<key>, <prefix>/byteorder.
func openZip(zr *zip.ReadCloser, size int64) (*File, error) {
	var pkl *zip.File
	for _, e := range zr.File {
		if strings.HasSuffix(e.Name, "/data.pkl") || e.Name == "data.pkl" {
			if pkl != nil {
				return nil, errors.New("more than one data.pkl")
			}
			pkl = e
		}
	}
	if pkl == nil {
		return nil, errors.New("no data.pkl: not a torch.save archive")
	}
	f := &File{closer: zr, storages: map[string]storageData{}}
	prefix := strings.TrimSuffix(pkl.Name, "data.pkl")
	for _, e := range zr.File {
		switch {
		case strings.HasPrefix(e.Name, prefix+"data/"):
			// torch.save stores storages uncompressed; a declared size must be data in the file, or
			// reading a tensor could allocate what the header claims.
			off, err := e.DataOffset()
			if e.Method != zip.Store || e.CompressedSize64 != e.UncompressedSize64 || err != nil ||
				off < 0 || e.UncompressedSize64 > uint64(size-off) {
				return nil, fmt.Errorf("storage %s: not stored uncompressed within the file", e.Name)
			}
			f.storages[strings.TrimPrefix(e.Name, prefix+"data/")] = storageData{entry: e}
		case e.Name == prefix+"byteorder":
			b, err := readEntry(e, 16)
			if err != nil {
				return nil, err
			}
			if string(b) != "little" {
				return nil, fmt.Errorf("byte order %q (only little-endian files are read)", b)
			}
		}
	}
	b, err := readEntry(pkl, maxEntry)
	if err != nil {
		return nil, err
	}
	obj, err := unpickle(b)
	if err != nil {
		return nil, err
	}
	return f, f.collect(obj)
}

// openLegacy reads the format before torch 1.6: pickles of the magic number, the protocol version,
// the system info and the object, then a pickle of the storage keys and, for each key in that order,
// its element count (int64) and its bytes.
func openLegacy(r *os.File) (*File, error) {
	f := &File{Path: r.Name(), closer: r, storages: map[string]storageData{}}
	st, err := r.Stat()
	if err != nil {
		return nil, err
	}
	// The pickles come first; read enough of the file to hold them.
	var b []byte
	var objs [5]any
	var end int
	for n := int64(1 << 20); ; n *= 4 {
		n = min(n, st.Size(), maxEntry)
		b = make([]byte, n)
		if _, err := r.ReadAt(b, 0); err != nil && err != io.EOF {
			return nil, err
		}
		end, err = 0, nil
		for i := range objs {
			var l int
			if objs[i], l, err = unpickleAt(b[end:]); err != nil {
				break
			}
			end += l
		}
		if err == nil {
			break
		}
		if !errors.Is(err, errTruncated) || n == st.Size() || n == maxEntry {
			return nil, err
		}
	}
	if v, ok := objs[1].(int64); !ok || v != 1001 {
		return nil, errors.New("legacy protocol version is not 1001")
	}
	if info, ok := objs[2].(*dict); !ok || info.m["little_endian"] != true {
		return nil, errors.New("not a little-endian file")
	}
	keys, ok := objs[4].(*list)
	if !ok {
		return nil, errors.New("no storage key list after the object")
	}
	// Element sizes of the storages the tensors use; a storage no tensor uses cannot be skipped
	// without its size, so every listed key must have one.
	es := map[string]int64{}
	if d, ok := objs[3].(*dict); ok {
		for _, v := range d.m {
			if t, ok := v.(*Tensor); ok {
				es[t.storage.key], _ = safetensors.DTypeSize(t.DType)
			}
		}
	}
	off := int64(end)
	for _, k := range keys.items {
		key, ok := k.(string)
		if !ok || es[key] == 0 {
			return nil, fmt.Errorf("storage %q is no top-level tensor's (its size is unknown)", key)
		}
		var n [8]byte
		if _, err := r.ReadAt(n[:], off); err != nil {
			return nil, fmt.Errorf("storage %s: %v", key, err)
		}
		numel := int64(binary.LittleEndian.Uint64(n[:]))
		if numel < 0 || numel > (st.Size()-off-8)/es[key] {
			return nil, fmt.Errorf("storage %s: %d elements past the end of the file", key, numel)
		}
		f.storages[key] = storageData{file: r, off: off + 8, size: numel * es[key]}
		off += 8 + numel*es[key]
	}
	return f, f.collect(objs[3])
}

// collect keeps the state dict's tensors, each checked against its storage's size.
func (f *File) collect(obj any) error {
	f.Tensors = map[string]*Tensor{}
	d, ok := obj.(*dict)
	if !ok {
		return fmt.Errorf("the pickle holds a %s, want a state dict (name → tensor)", typeName(obj))
	}
	for _, k := range d.keys {
		t, ok := d.m[k].(*Tensor)
		if !ok {
			continue // other entries of a checkpoint (an epoch number, a nested dict)
		}
		sd, ok := f.storages[t.storage.key]
		if !ok {
			return fmt.Errorf("tensor %q: storage %q missing", k, t.storage.key)
		}
		if size, _ := safetensors.DTypeSize(t.DType); t.storage.numel > sd.len()/size {
			return fmt.Errorf("tensor %q: storage %q holds %d bytes, want %d elements of %s", k, t.storage.key, sd.len(), t.storage.numel, t.DType)
		}
		f.Tensors[k], f.names = t, append(f.names, k)
	}
	if len(f.names) == 0 {
		return errors.New("no tensors at the top level of the pickle (a state dict is expected)")
	}
	return nil
}

func typeName(v any) string {
	switch v.(type) {
	case *list:
		return "list"
	case tuple:
		return "tuple"
	case *Tensor:
		return "single tensor"
	case *dict:
		return "dict"
	case global:
		return "Python global"
	case nil:
		return "None"
	}
	return fmt.Sprintf("%T", v)
}

func readEntry(e *zip.File, limit int64) ([]byte, error) {
	if e.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("%s: %d bytes, more than %d", e.Name, e.UncompressedSize64, limit)
	}
	r, err := e.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", e.Name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", e.Name, err)
	}
	return b, nil
}

// Close closes the file.
func (f *File) Close() error { return f.closer.Close() }

// Names lists the tensor names in the state dict's order.
func (f *File) Names() []string { return slices.Clone(f.names) }

// Info returns the tensor's dtype and shape (Begin and End are 0: the data is inside the archive).
func (f *File) Info(name string) (safetensors.TensorInfo, error) {
	t, ok := f.Tensors[name]
	if !ok {
		return safetensors.TensorInfo{}, fmt.Errorf("%s: no tensor %q", f.Path, name)
	}
	return safetensors.TensorInfo{Name: name, DType: t.DType, Shape: slices.Clone(t.Shape)}, nil
}

// Raw returns the tensor's elements in row-major order, as little-endian bytes of its dtype.
func (f *File) Raw(name string) ([]byte, error) {
	t, ok := f.Tensors[name]
	if !ok {
		return nil, fmt.Errorf("%s: no tensor %q", f.Path, name)
	}
	b, err := f.raw(t)
	if err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %v", f.Path, name, err)
	}
	return b, nil
}

func (f *File) raw(t *Tensor) ([]byte, error) {
	es, _ := safetensors.DTypeSize(t.DType)
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	if n == 0 {
		return []byte{}, nil
	}
	// The storage span the view reaches, read once.
	last := t.Offset
	for i, d := range t.Shape {
		last += (d - 1) * t.Stride[i]
	}
	r, err := f.storages[t.storage.key].open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if _, err := io.CopyN(io.Discard, r, t.Offset*es); err != nil {
		return nil, err
	}
	span := make([]byte, (last-t.Offset+1)*es)
	if _, err := io.ReadFull(r, span); err != nil {
		return nil, err
	}
	if contiguous(t.Shape, t.Stride) {
		return span, nil
	}
	out := make([]byte, n*es)
	idx := make([]int64, len(t.Shape))
	for k := int64(0); k < n; k++ {
		var src int64
		for i, x := range idx {
			src += x * t.Stride[i]
		}
		copy(out[k*es:(k+1)*es], span[src*es:(src+1)*es])
		for i := len(idx) - 1; i >= 0; i-- {
			if idx[i]++; idx[i] < t.Shape[i] {
				break
			}
			idx[i] = 0
		}
	}
	return out, nil
}

// contiguous reports row-major strides (dimensions of size 1 may have any stride).
func contiguous(shape, stride []int64) bool {
	want := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] != 1 && stride[i] != want {
			return false
		}
		want *= shape[i]
	}
	return true
}

// Float32 returns a floating-point tensor converted to float32, row-major.
func (f *File) Float32(name string) ([]float32, error) {
	b, err := f.Raw(name)
	if err != nil {
		return nil, err
	}
	v, err := safetensors.ToFloat32(f.Tensors[name].DType, b)
	if err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %v", f.Path, name, err)
	}
	return v, nil
}
