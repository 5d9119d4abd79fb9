package dataset

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// hfDataFiles lists the Arrow files of a save_to_disk directory in row order: state.json's
// _data_files when present (it is the order datasets itself loads), else data-*.arrow sorted.
func hfDataFiles(dir string) ([]string, error) {
	var state struct {
		DataFiles []struct {
			Filename string `json:"filename"`
		} `json:"_data_files"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, "state.json")); err == nil {
		if err := json.Unmarshal(b, &state); err != nil {
			return nil, fmt.Errorf("%s: bad state.json: %s", dir, oneLine(err.Error()))
		}
	}
	var files []string
	for _, d := range state.DataFiles {
		files = append(files, filepath.Join(dir, d.Filename))
	}
	if len(files) == 0 {
		files, _ = filepath.Glob(filepath.Join(dir, "data-*.arrow"))
		sort.Strings(files)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no data-*.arrow files", dir)
	}
	return files, nil
}

func openHF(dir, field string) (source, error) {
	files, err := hfDataFiles(dir)
	if err != nil {
		return nil, err
	}
	return openArrowFiles(files, field)
}

// arrowSource reads Arrow IPC files (stream format as written by datasets, or the file format)
// one record batch at a time.
type arrowSource struct {
	files []string
	field string
	fi    int

	f      *os.File
	stream *ipc.Reader
	file   *ipc.FileReader
	batch  int // next batch of file
	rec    arrow.RecordBatch
	name   string
	col    arrow.Array
	isText bool
	i      int   // next row in rec
	row    int64 // rows read from the current file
}

func openArrowFiles(files []string, field string) (source, error) {
	s := &arrowSource{files: files, field: field}
	// Open the first file now so that a missing column fails at Open, not at the first row.
	if err := s.openNext(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *arrowSource) openNext() error {
	s.closeFile()
	if s.fi >= len(s.files) {
		return io.EOF
	}
	s.name = s.files[s.fi]
	s.fi++
	s.row, s.batch = 0, 0
	f, err := os.Open(s.name)
	if err != nil {
		return err
	}
	s.f = f
	var head [8]byte
	_, _ = io.ReadFull(f, head[:])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	var schema *arrow.Schema
	if string(head[:6]) == "ARROW1" {
		s.file, err = ipc.NewFileReader(f)
		if err == nil {
			schema = s.file.Schema()
		}
	} else if err = checkStreamHead(f, head); err == nil {
		s.stream, err = ipc.NewReader(bufio.NewReaderSize(f, 1<<20))
		if err == nil {
			schema = s.stream.Schema()
		}
	}
	if err != nil {
		return fmt.Errorf("%s: not an Arrow IPC file: %s", s.name, oneLine(err.Error()))
	}
	return s.checkSchema(schema)
}

// checkStreamHead rejects a file whose first message length is impossible: the stream reader would
// otherwise try to allocate and read that many bytes (gigabytes for a text file).
func checkStreamHead(f *os.File, head [8]byte) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	n := int64(int32(binary.LittleEndian.Uint32(head[:4])))
	if n == -1 { // continuation marker (Arrow ≥ 0.15), then the length
		n = int64(int32(binary.LittleEndian.Uint32(head[4:])))
	}
	if n <= 0 || n > st.Size()-8 {
		return fmt.Errorf("first message length %d does not fit the %d-byte file", n, st.Size())
	}
	return nil
}

func (s *arrowSource) checkSchema(schema *arrow.Schema) error {
	name := s.field
	if name == FieldAuto {
		name = FieldText
		if schema.HasField(FieldInputIDs) {
			name = FieldInputIDs
		}
	}
	idx := schema.FieldIndices(name)
	if len(idx) == 0 {
		var cols []string
		for _, f := range schema.Fields() {
			cols = append(cols, f.Name)
		}
		want := `"text" or "input_ids"`
		if s.field != FieldAuto {
			want = `"` + s.field + `"`
		}
		return fmt.Errorf("%s: no %s column (columns: %s)", s.name, want, strings.Join(cols, ", "))
	}
	s.isText = name == FieldText
	t := schema.Field(idx[0]).Type
	switch {
	case s.isText && t.ID() != arrow.STRING && t.ID() != arrow.LARGE_STRING && t.ID() != arrow.STRING_VIEW:
		return fmt.Errorf("%s: column text has type %s, want a string", s.name, t)
	case !s.isText:
		lt, ok := t.(arrow.ListLikeType)
		if !ok || !isIntType(lt.Elem().ID()) {
			return fmt.Errorf("%s: column input_ids has type %s, want a list of integers", s.name, t)
		}
	}
	return nil
}

func isIntType(id arrow.Type) bool {
	switch id {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return true
	}
	return false
}

// nextBatch makes rec the next non-empty record batch, across files.
func (s *arrowSource) nextBatch() error {
	for {
		if s.rec != nil && s.file != nil {
			s.rec.Release() // FileReader batches are owned by the caller; stream ones by the reader
		}
		s.rec, s.i = nil, 0
		switch {
		case s.stream != nil:
			if s.stream.Next() {
				s.rec = s.stream.RecordBatch()
			} else if err := s.stream.Err(); err != nil {
				return fmt.Errorf("%s: after row %d: %s", s.name, s.row, oneLine(err.Error()))
			}
		case s.file != nil && s.batch < s.file.NumRecords():
			rec, err := s.file.RecordBatch(s.batch)
			if err != nil {
				return fmt.Errorf("%s: record batch %d: %s", s.name, s.batch, oneLine(err.Error()))
			}
			s.batch++
			s.rec = rec
		}
		if s.rec == nil {
			if err := s.openNext(); err != nil {
				return err
			}
			continue
		}
		if s.rec.NumRows() == 0 {
			continue
		}
		name := s.field
		if name == FieldAuto {
			name = FieldText
			if s.rec.Schema().HasField(FieldInputIDs) {
				name = FieldInputIDs
			}
		}
		s.col = s.rec.Column(s.rec.Schema().FieldIndices(name)[0])
		return nil
	}
}

func (s *arrowSource) next() (record, error) {
	if s.rec == nil || s.i >= int(s.rec.NumRows()) {
		if err := s.nextBatch(); err != nil {
			return record{}, err
		}
	}
	i := s.i
	s.i++
	pos := rowPos(s.name, s.row)
	s.row++
	if s.col.IsNull(i) {
		if s.isText {
			return record{}, fmt.Errorf("%s: text is null", pos)
		}
		return record{}, fmt.Errorf("%s: input_ids is null", pos)
	}
	if s.isText {
		str, ok := s.col.(interface{ Value(int) string })
		if !ok {
			return record{}, fmt.Errorf("%s: column text is %s, want a string", pos, s.col.DataType())
		}
		// Clone: Arrow strings alias the batch buffer, which the next batch replaces.
		return record{pos: pos, text: strings.Clone(str.Value(i)), isText: true}, nil
	}
	list := s.col.(array.ListLike)
	start, end := list.ValueOffsets(i)
	values := list.ListValues()
	ids := make([]int64, 0, end-start)
	for j := int(start); j < int(end); j++ {
		if values.IsNull(j) {
			return record{}, fmt.Errorf("%s: input_ids[%d] is null", pos, j-int(start))
		}
		ids = append(ids, intAt(values, j))
	}
	return record{pos: pos, ids: ids}, nil
}

func intAt(a arrow.Array, j int) int64 {
	switch v := a.(type) {
	case *array.Int32:
		return int64(v.Value(j))
	case *array.Int64:
		return v.Value(j)
	case *array.Int16:
		return int64(v.Value(j))
	case *array.Int8:
		return int64(v.Value(j))
	case *array.Uint32:
		return int64(v.Value(j))
	case *array.Uint16:
		return int64(v.Value(j))
	case *array.Uint8:
		return int64(v.Value(j))
	case *array.Uint64:
		if x := v.Value(j); x <= 1<<63-1 {
			return int64(x)
		}
		return 1<<63 - 1 // out of any vocab: reported as ≥ vocab size
	}
	panic(fmt.Sprintf("intAt: %T", a)) // excluded by checkSchema
}

func (s *arrowSource) closeFile() {
	if s.rec != nil && s.file != nil {
		s.rec.Release()
	}
	s.rec = nil
	if s.stream != nil {
		s.stream.Release()
		s.stream = nil
	}
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
}

func (s *arrowSource) Close() error {
	s.closeFile()
	return nil
}
