package convert

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/wcos-dev/wcos/safetensors"
)

// f32ToBF16 rounds to the nearest bfloat16 (ties to even), as torch and gguf-py do.
func f32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40 // keep NaN a quiet NaN
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// dtypeOf maps an output type to its safetensors-style dtype name.
var ggmlToDType = map[uint32]string{typeF32: "F32", typeF16: "F16", typeBF16: "BF16"}

// convertData re-encodes little-endian F32/F16/BF16 data as the ggml type to (F32, F16 or BF16).
// Equal types return the input unchanged.
func convertData(dtype string, raw []byte, to uint32) ([]byte, error) {
	if ggmlToDType[to] == dtype {
		return raw, nil
	}
	v, err := safetensors.ToFloat32(dtype, raw)
	if err != nil {
		return nil, err
	}
	switch to {
	case typeF32:
		out := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
		}
		return out, nil
	case typeF16, typeBF16:
		enc := safetensors.F32ToF16
		if to == typeBF16 {
			enc = f32ToBF16
		}
		out := make([]byte, 2*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint16(out[2*i:], enc(x))
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot convert %s to %s", dtype, typeName(to))
}
