package dataset

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// parquetSource reads one leaf column page by page (other columns are never decoded). Rows are
// delimited by repetition level 0, which also handles v1 pages whose rows straddle page boundaries.
type parquetSource struct {
	name   string
	f      *os.File
	pf     *parquet.File
	col    int
	isText bool
	maxDef int

	rg    int
	pages parquet.Pages
	page  parquet.Page
	vr    parquet.ValueReader
	buf   []parquet.Value
	bi    int
	bn    int
	eof   bool // no more values in the file
	row   int64
	cur   []int64
	curOK bool // cur holds a started row
	null  bool // the started row has a null value
	text  string
}

func openParquet(path, field string) (source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %s", path, oneLine(err.Error()))
	}
	s := &parquetSource{name: path, f: f, pf: pf, buf: make([]parquet.Value, 4096)}
	if err := s.pickColumn(field); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

func (s *parquetSource) pickColumn(field string) error {
	leaves := map[string][]parquet.LeafColumn{}
	var top []string
	for _, path := range s.pf.Schema().Columns() {
		leaf, _ := s.pf.Schema().Lookup(path...)
		if _, seen := leaves[path[0]]; !seen {
			top = append(top, path[0])
		}
		leaves[path[0]] = append(leaves[path[0]], leaf)
	}
	name := field
	if name == FieldAuto {
		name = FieldText
		if _, ok := leaves[FieldInputIDs]; ok {
			name = FieldInputIDs
		}
	}
	ls, ok := leaves[name]
	if !ok {
		want := `"text" or "input_ids"`
		if field != FieldAuto {
			want = `"` + field + `"`
		}
		return fmt.Errorf("%s: no %s column (columns: %s)", s.name, want, strings.Join(top, ", "))
	}
	if len(ls) != 1 {
		return fmt.Errorf("%s: column %q is a struct of %d columns, want a string or a list of integers", s.name, name, len(ls))
	}
	leaf := ls[0]
	kind := leaf.Node.Type().Kind()
	s.col, s.maxDef, s.isText = leaf.ColumnIndex, leaf.MaxDefinitionLevel, name == FieldText
	switch {
	case s.isText && (kind != parquet.ByteArray || leaf.MaxRepetitionLevel != 0):
		return fmt.Errorf("%s: column text has type %s, want a string", s.name, leaf.Node.Type())
	case !s.isText && (kind != parquet.Int32 && kind != parquet.Int64 || leaf.MaxRepetitionLevel != 1):
		return fmt.Errorf("%s: column input_ids has type %s (repetition %d), want a list of int32/int64", s.name, leaf.Node.Type(), leaf.MaxRepetitionLevel)
	}
	return nil
}

// value returns the next value of the column across pages and row groups.
func (s *parquetSource) value() (parquet.Value, error) {
	for s.bi == s.bn {
		if s.vr != nil {
			n, err := s.vr.ReadValues(s.buf)
			s.bi, s.bn = 0, n
			if err == io.EOF {
				s.vr = nil // the page is released once its buffered values are used
			} else if err != nil {
				return parquet.Value{}, err
			}
			if n > 0 {
				break
			}
			continue
		}
		if s.page != nil {
			parquet.Release(s.page)
			s.page = nil
		}
		if s.pages != nil {
			p, err := s.pages.ReadPage()
			if err == io.EOF {
				s.pages.Close()
				s.pages = nil
				continue
			}
			if err != nil {
				return parquet.Value{}, err
			}
			s.page, s.vr = p, p.Values()
			continue
		}
		groups := s.pf.RowGroups()
		if s.rg >= len(groups) {
			return parquet.Value{}, io.EOF
		}
		s.pages = groups[s.rg].ColumnChunks()[s.col].Pages()
		s.rg++
	}
	v := s.buf[s.bi]
	s.bi++
	return v, nil
}

func (s *parquetSource) next() (record, error) {
	for !s.eof {
		v, err := s.value()
		if err == io.EOF {
			s.eof = true
			break
		}
		if err != nil {
			return record{}, fmt.Errorf("%s: %s", rowPos(s.name, s.row), oneLine(err.Error()))
		}
		if v.RepetitionLevel() == 0 && s.curOK {
			rec, err := s.finish()
			s.start(v)
			return rec, err
		}
		if v.RepetitionLevel() == 0 {
			s.start(v)
		} else {
			s.add(v)
		}
	}
	if s.curOK {
		return s.finish()
	}
	return record{}, io.EOF
}

func (s *parquetSource) start(v parquet.Value) {
	s.curOK, s.null, s.cur, s.text = true, false, nil, ""
	s.add(v)
}

func (s *parquetSource) add(v parquet.Value) {
	if v.IsNull() || v.DefinitionLevel() < s.maxDef {
		s.null = true
		return
	}
	switch {
	case s.isText:
		s.text = string(v.ByteArray()) // copies: the page buffer is released later
	case v.Kind() == parquet.Int32:
		s.cur = append(s.cur, int64(v.Int32()))
	default:
		s.cur = append(s.cur, v.Int64())
	}
}

func (s *parquetSource) finish() (record, error) {
	pos := rowPos(s.name, s.row)
	s.row++
	s.curOK = false
	if s.null {
		if s.isText {
			return record{}, fmt.Errorf("%s: text is null", pos)
		}
		if len(s.cur) == 0 {
			return record{}, fmt.Errorf("%s: empty or null input_ids", pos)
		}
		return record{}, fmt.Errorf("%s: input_ids contains a null", pos)
	}
	if s.isText {
		return record{pos: pos, text: s.text, isText: true}, nil
	}
	return record{pos: pos, ids: s.cur}, nil
}

func (s *parquetSource) Close() error {
	if s.pages != nil {
		s.pages.Close()
	}
	return s.f.Close()
}
