package bindings

import (
	"runtime"
	"unsafe"
)

// pinner pins Go memory handed to C for the duration of one call (cgo pointer rules).
type pinner struct{ p runtime.Pinner }

func (p *pinner) ptr(v any) unsafe.Pointer {
	p.p.Pin(v)
	switch x := v.(type) {
	case *int64:
		return unsafe.Pointer(x)
	case *uint64:
		return unsafe.Pointer(x)
	case *int32:
		return unsafe.Pointer(x)
	case *float32:
		return unsafe.Pointer(x)
	case *float64:
		return unsafe.Pointer(x)
	}
	panic("pinner: unsupported type")
}

func (p *pinner) unpin() { p.p.Unpin() }
