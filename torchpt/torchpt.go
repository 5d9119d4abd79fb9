package torchpt

import (
	"archive/zip"
	"bytes"
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

// File is an opened torch.save archive.
type File struct {
	Path    string
	Tensors map[string]*Tensor
	names   []string // in the state dict's order
	zr      *zip.ReadCloser
	data    map[string]*zip.File // storage key → archive entry
}

// legacyMagic starts the pickle of torch.save's format before torch 1.6 (a pickled big integer).
var legacyMagic = []byte{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8}

// maxEntry bounds the pickle entry read into memory.
const maxEntry = 1 << 30

// Open reads the archive's pickle and checks every tensor against its storage. Errors are one line
// naming the file.
func Open(path string) (*File, error) {
	f, err := open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return f, nil
}

func open(path string) (*File, error) {
	if head, err := readHead(path, len(legacyMagic)); err == nil && bytes.Equal(head, legacyMagic) {
		return nil, errors.New("torch.save's legacy format (before torch 1.6): save it again with a newer torch")
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("not a torch.save archive: %v", err)
	}
	f := &File{Path: path, zr: zr, Tensors: map[string]*Tensor{}, data: map[string]*zip.File{}}
	if err := f.load(); err != nil {
		zr.Close()
		return nil, err
	}
	return f, nil
}

func readHead(path string, n int) ([]byte, error) {
	r, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b := make([]byte, n)
	_, err = io.ReadFull(r, b)
	return b, err
}

func (f *File) load() error {
	// The entries are <prefix>/data.pkl, <prefix>/data/<key>, <prefix>/byteorder, … for one prefix.
	var pkl *zip.File
	for _, e := range f.zr.File {
		if strings.HasSuffix(e.Name, "/data.pkl") || e.Name == "data.pkl" {
			if pkl != nil {
				return errors.New("more than one data.pkl")
			}
			pkl = e
		}
	}
	if pkl == nil {
		return errors.New("no data.pkl: not a torch.save archive")
	}
	prefix := strings.TrimSuffix(pkl.Name, "data.pkl")
	for _, e := range f.zr.File {
		switch {
		case strings.HasPrefix(e.Name, prefix+"data/"):
			f.data[strings.TrimPrefix(e.Name, prefix+"data/")] = e
		case e.Name == prefix+"byteorder":
			b, err := readEntry(e, 16)
			if err != nil {
				return err
			}
			if string(b) != "little" {
				return fmt.Errorf("byte order %q (only little-endian archives are read)", b)
			}
		}
	}
	b, err := readEntry(pkl, maxEntry)
	if err != nil {
		return err
	}
	obj, err := unpickle(b)
	if err != nil {
		return err
	}
	d, ok := obj.(*dict)
	if !ok {
		return fmt.Errorf("the pickle holds a %s, want a state dict (name → tensor)", typeName(obj))
	}
	for _, k := range d.keys {
		t, ok := d.m[k].(*Tensor)
		if !ok {
			continue // other entries of a checkpoint (an epoch number, nested optimiser state)
		}
		e, ok := f.data[t.storage.key]
		if !ok {
			return fmt.Errorf("tensor %q: storage %q missing", k, t.storage.key)
		}
		if size, _ := safetensors.DTypeSize(t.DType); e.UncompressedSize64 > 1<<62 || t.storage.numel > int64(e.UncompressedSize64)/size {
			return fmt.Errorf("tensor %q: storage %q holds %d bytes, want %d elements of %s", k, t.storage.key, e.UncompressedSize64, t.storage.numel, t.DType)
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

// Close closes the archive.
func (f *File) Close() error { return f.zr.Close() }

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
	e := f.data[t.storage.key]
	r, err := e.Open()
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
