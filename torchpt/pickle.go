package torchpt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
)

// The objects the unpickler builds: nil, bool, int64 (*big.Int beyond), float64, string, []byte,
// tuple, *list, *dict, global, *storage and *Tensor.
type (
	tuple  []any
	list   struct{ items []any }
	global struct{ module, name string }
	// dict keeps string keys in insertion order (a state dict's order).
	dict struct {
		keys []string
		m    map[string]any
	}
	// storage is a persistent id: one entry of the archive's data/ folder.
	storage struct {
		dtype string
		key   string
		numel int64
	}
)

func newDict() *dict { return &dict{m: map[string]any{}} }

// set stores v under k. Keys that are not strings (an optimiser state's parameter numbers) are left
// out: a state dict's names are strings.
func (d *dict) set(k, v any) error {
	s, ok := k.(string)
	if !ok {
		return nil
	}
	if _, dup := d.m[s]; !dup {
		d.keys = append(d.keys, s)
	}
	d.m[s] = v
	return nil
}

// storageTypes are torch's typed storage classes and their safetensors dtype names.
var storageTypes = map[string]string{
	"FloatStorage": "F32", "HalfStorage": "F16", "BFloat16Storage": "BF16", "DoubleStorage": "F64",
	"LongStorage": "I64", "IntStorage": "I32", "ShortStorage": "I16", "CharStorage": "I8",
	"ByteStorage": "U8", "BoolStorage": "BOOL",
}

// maxPickle bounds lengths read from the pickle itself (strings, bytes, memo indices).
const maxPickle = 1 << 30

type unpickler struct {
	b     []byte
	pos   int
	stack []any
	marks [][]any
	memo  map[int64]any
}

var errTruncated = errors.New("pickle truncated")

func (u *unpickler) take(n int) ([]byte, error) {
	if n < 0 || n > len(u.b)-u.pos {
		return nil, errTruncated
	}
	s := u.b[u.pos : u.pos+n]
	u.pos += n
	return s, nil
}

func (u *unpickler) uint(n int) (uint64, error) {
	s, err := u.take(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(s[i])
	}
	return v, nil
}

func (u *unpickler) line() (string, error) {
	for i := u.pos; i < len(u.b); i++ {
		if u.b[i] == '\n' {
			s := string(u.b[u.pos:i])
			u.pos = i + 1
			return s, nil
		}
	}
	return "", errTruncated
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 {
		return nil, errors.New("pickle stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) == 0 {
		return nil, errors.New("pickle stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popN pops the top n items, in stack order.
func (u *unpickler) popN(n int) ([]any, error) {
	if len(u.stack) < n {
		return nil, errors.New("pickle stack underflow")
	}
	items := append([]any(nil), u.stack[len(u.stack)-n:]...)
	u.stack = u.stack[:len(u.stack)-n]
	return items, nil
}

// addTo adds items to the list (APPEND, APPENDS) or the dict (SETITEM, SETITEMS: keys and values in
// turn) on top of the stack.
func (u *unpickler) addTo(op byte, items []any) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	switch c := v.(type) {
	case *list:
		if op == 'a' || op == 'e' {
			c.items = append(c.items, items...)
			return nil
		}
	case *dict:
		if op == 's' || op == 'u' {
			return setItems(c, items)
		}
	}
	return fmt.Errorf("opcode %q on a %s", op, typeName(v))
}

// popMark returns the items pushed since the last MARK and restores the stack below it.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, errors.New("pickle: no mark")
	}
	items := u.stack
	u.stack = u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	return items, nil
}

// sized reads a length of n bytes, then that many bytes.
func (u *unpickler) sized(n int) ([]byte, error) {
	l, err := u.uint(n)
	if err != nil {
		return nil, err
	}
	if l > maxPickle {
		return nil, fmt.Errorf("pickle: length %d too large", l)
	}
	return u.take(int(l))
}

// unpickle runs the pickle at the start of b.
func unpickle(b []byte) (any, error) {
	v, _, err := unpickleAt(b)
	return v, err
}

// unpickleAt runs the pickle at the start of b and returns its object and length.
func unpickleAt(b []byte) (any, int, error) {
	u := &unpickler{b: b, memo: map[int64]any{}}
	for {
		if u.pos >= len(u.b) {
			return nil, 0, errTruncated
		}
		op := u.b[u.pos]
		at := u.pos
		u.pos++
		if err := u.step(op); err != nil {
			if err == errStop {
				v, err := u.pop()
				return v, u.pos, err
			}
			return nil, 0, fmt.Errorf("pickle opcode %#02x at byte %d: %w", op, at, err)
		}
	}
}

var errStop = errors.New("stop")

func (u *unpickler) step(op byte) error {
	switch op {
	case 0x80: // PROTO
		_, err := u.take(1)
		return err
	case 0x95: // FRAME
		_, err := u.take(8)
		return err
	case '.': // STOP
		return errStop
	case '(': // MARK
		u.marks = append(u.marks, u.stack)
		u.stack = nil
	case '}': // EMPTY_DICT
		u.push(newDict())
	case ']': // EMPTY_LIST
		u.push(&list{})
	case ')': // EMPTY_TUPLE
		u.push(tuple{})
	case 'N':
		u.push(nil)
	case 0x88, 0x89: // NEWTRUE, NEWFALSE
		u.push(op == 0x88)
	case 'K', 'M': // BININT1, BININT2
		n := 1
		if op == 'M' {
			n = 2
		}
		v, err := u.uint(n)
		if err != nil {
			return err
		}
		u.push(int64(v))
	case 'J': // BININT
		v, err := u.uint(4)
		if err != nil {
			return err
		}
		u.push(int64(int32(uint32(v))))
	case 0x8a: // LONG1: little-endian two's complement
		s, err := u.sized(1)
		if err != nil {
			return err
		}
		v := new(big.Int)
		for i := len(s) - 1; i >= 0; i-- {
			v.Lsh(v, 8).Or(v, big.NewInt(int64(s[i])))
		}
		if len(s) > 0 && s[len(s)-1]&0x80 != 0 {
			v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(s))))
		}
		if v.IsInt64() {
			u.push(v.Int64())
		} else {
			u.push(v) // the legacy format's magic number
		}
	case 'G': // BINFLOAT, big-endian
		s, err := u.take(8)
		if err != nil {
			return err
		}
		u.push(math.Float64frombits(binary.BigEndian.Uint64(s)))
	case 'X', 0x8c, 0x8d, 'T', 'U', 'B', 'C', 0x8e: // strings and bytes with 4-, 1- or 8-byte lengths
		n := map[byte]int{'X': 4, 0x8c: 1, 0x8d: 8, 'T': 4, 'U': 1, 'B': 4, 'C': 1, 0x8e: 8}[op]
		s, err := u.sized(n)
		if err != nil {
			return err
		}
		if op == 'B' || op == 'C' || op == 0x8e {
			u.push(append([]byte(nil), s...))
		} else {
			u.push(string(s))
		}
	case 'c': // GLOBAL module\nname\n
		m, err := u.line()
		if err != nil {
			return err
		}
		n, err := u.line()
		if err != nil {
			return err
		}
		u.push(global{m, n})
	case 0x93: // STACK_GLOBAL
		n, err := u.pop()
		if err != nil {
			return err
		}
		m, err := u.pop()
		if err != nil {
			return err
		}
		ms, ok1 := m.(string)
		ns, ok2 := n.(string)
		if !ok1 || !ok2 {
			return errors.New("STACK_GLOBAL of non-strings")
		}
		u.push(global{ms, ns})
	case 'q', 'r', 0x94: // BINPUT, LONG_BINPUT, MEMOIZE
		var i uint64
		var err error
		switch op {
		case 'q':
			i, err = u.uint(1)
		case 'r':
			i, err = u.uint(4)
		default:
			i = uint64(len(u.memo))
		}
		if err != nil {
			return err
		}
		v, err := u.top()
		if err != nil {
			return err
		}
		u.memo[int64(i)] = v
	case 'h', 'j': // BINGET, LONG_BINGET
		n := 1
		if op == 'j' {
			n = 4
		}
		i, err := u.uint(n)
		if err != nil {
			return err
		}
		v, ok := u.memo[int64(i)]
		if !ok {
			return fmt.Errorf("memo %d not set", i)
		}
		u.push(v)
	case '0': // POP
		_, err := u.pop()
		return err
	case '1': // POP_MARK
		_, err := u.popMark()
		return err
	case '2': // DUP
		v, err := u.top()
		if err != nil {
			return err
		}
		u.push(v)
	case 't': // TUPLE
		items, err := u.popMark()
		if err != nil {
			return err
		}
		u.push(tuple(items))
	case 0x85, 0x86, 0x87: // TUPLE1..3
		items, err := u.popN(int(op - 0x84))
		if err != nil {
			return err
		}
		u.push(tuple(items))
	case 'l': // LIST
		items, err := u.popMark()
		if err != nil {
			return err
		}
		u.push(&list{items: items})
	case 'd': // DICT
		items, err := u.popMark()
		if err != nil {
			return err
		}
		d := newDict()
		if err := setItems(d, items); err != nil {
			return err
		}
		u.push(d)
	case 'a', 's': // APPEND, SETITEM: the top item or key and value
		items, err := u.popN(map[byte]int{'a': 1, 's': 2}[op])
		if err != nil {
			return err
		}
		return u.addTo(op, items)
	case 'e', 'u': // APPENDS, SETITEMS: the items since the last mark
		items, err := u.popMark()
		if err != nil {
			return err
		}
		return u.addTo(op, items)
	case 'Q': // BINPERSID
		pid, err := u.pop()
		if err != nil {
			return err
		}
		s, err := persistent(pid)
		if err != nil {
			return err
		}
		u.push(s)
	case 'R', 0x81: // REDUCE, NEWOBJ: f(*args), cls.__new__(cls, *args)
		args, err := u.pop()
		if err != nil {
			return err
		}
		f, err := u.pop()
		if err != nil {
			return err
		}
		t, ok := args.(tuple)
		if !ok {
			return fmt.Errorf("REDUCE with arguments of type %T", args)
		}
		v, err := call(f, t)
		if err != nil {
			return err
		}
		u.push(v)
	case 'b': // BUILD: a state dict's _metadata, a tensor's state; not needed
		if _, err := u.pop(); err != nil {
			return err
		}
		_, err := u.top()
		return err
	default:
		return errors.New("unsupported opcode")
	}
	return nil
}

func setItems(d *dict, items []any) error {
	if len(items)%2 != 0 {
		return errors.New("odd number of dict items")
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.set(items[i], items[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// persistent resolves torch's persistent id ('storage', StorageType, key, location, numel); the legacy
// format adds a view_metadata, which must be None (storage views predate torch 1.0).
func persistent(pid any) (*storage, error) {
	// Pickled values are never printed: a crafted nesting would overflow fmt's recursion.
	t, ok := pid.(tuple)
	if !ok || len(t) < 5 || len(t) > 6 || t[0] != "storage" || len(t) == 6 && t[5] != nil {
		return nil, fmt.Errorf("persistent id (a %s), want ('storage', type, key, location, numel)", typeName(pid))
	}
	g, ok := t[1].(global)
	dtype := storageTypes[g.name]
	if !ok || g.module != "torch" || dtype == "" {
		return nil, fmt.Errorf("storage type %q", g.module+"."+g.name)
	}
	key, ok1 := t[2].(string)
	numel, ok2 := t[4].(int64)
	if !ok1 || !ok2 || numel < 0 {
		return nil, errors.New("storage key or size of the wrong type")
	}
	return &storage{dtype: dtype, key: key, numel: numel}, nil
}

// call applies one of the globals a state dict uses; any other is refused.
func call(f any, args tuple) (any, error) {
	g, ok := f.(global)
	if !ok {
		return nil, fmt.Errorf("call of %T", f)
	}
	switch g.module + "." + g.name {
	case "collections.OrderedDict":
		if len(args) != 0 {
			return nil, errors.New("OrderedDict with arguments")
		}
		return newDict(), nil
	case "torch._utils._rebuild_tensor_v2":
		return rebuildTensor(args)
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		if len(args) < 1 {
			return nil, errors.New("parameter without data")
		}
		if _, ok := args[0].(*Tensor); !ok {
			return nil, fmt.Errorf("parameter of %T", args[0])
		}
		return args[0], nil
	}
	return nil, fmt.Errorf("refusing Python global %s.%s (only state dicts of tensors are read)", g.module, g.name)
}

// rebuildTensor is torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
// backward_hooks[, metadata]).
func rebuildTensor(args tuple) (*Tensor, error) {
	if len(args) < 4 {
		return nil, errors.New("_rebuild_tensor_v2 with too few arguments")
	}
	s, ok := args[0].(*storage)
	off, ok2 := args[1].(int64)
	size, ok3 := args[2].(tuple)
	stride, ok4 := args[3].(tuple)
	if !ok || !ok2 || !ok3 || !ok4 || len(size) != len(stride) || off < 0 {
		return nil, errors.New("_rebuild_tensor_v2 with unexpected arguments")
	}
	t := &Tensor{DType: s.dtype, Offset: off, storage: s}
	for i := range size {
		n, ok1 := size[i].(int64)
		st, ok2 := stride[i].(int64)
		if !ok1 || !ok2 || n < 0 || st < 0 {
			return nil, fmt.Errorf("tensor size or stride %d is not a non-negative integer", i)
		}
		t.Shape, t.Stride = append(t.Shape, n), append(t.Stride, st)
	}
	// The elements the view reaches must lie in the storage, and be no more than it holds (a
	// broadcast view, stride 0, is not a state dict's).
	last, count := off, int64(1)
	for i, n := range t.Shape {
		if n == 0 {
			return t, nil
		}
		if count > s.numel/n {
			return nil, fmt.Errorf("tensor of shape %v from a storage of %d elements", t.Shape, s.numel)
		}
		count *= n
		if (n-1) > 0 && t.Stride[i] > (math.MaxInt64-last)/(n-1) {
			return nil, errors.New("tensor extent overflows")
		}
		last += (n - 1) * t.Stride[i]
	}
	if last >= s.numel {
		return nil, fmt.Errorf("tensor view reaches element %d of a storage of %d", last, s.numel)
	}
	return t, nil
}
