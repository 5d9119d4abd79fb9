package table

import (
	"bufio"
	"io"
	"iter"
	"os"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// Create writes path through a 1 MiB buffer filled by write.
func Create(path string, write func(w *bufio.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	if err := write(w); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// CSV writes rows as comma-separated lines; cells are written as they are, unquoted.
func CSV(w io.StringWriter, rows ...[]string) {
	for _, r := range rows {
		w.WriteString(strings.Join(r, ",") + "\n")
	}
}

// Markdown writes a pipe table: the header, a rule with one alignment ("---" or "---:") per column,
// then the rows.
func Markdown(w io.StringWriter, header, align []string, rows ...[]string) {
	line := func(cells []string) {
		w.WriteString("|")
		for _, c := range cells {
			w.WriteString(" " + c + " |")
		}
		w.WriteString("\n")
	}
	line(header)
	w.WriteString("|" + strings.Join(align, "|") + "|\n")
	for _, r := range rows {
		line(r)
	}
}

// Parquet writes rows to a zstd-compressed Parquet file at path with T's schema.
func Parquet[T any](path string, rows iter.Seq[T]) error {
	return Create(path, func(bw *bufio.Writer) error {
		w := parquet.NewGenericWriter[T](bw, parquet.Compression(&zstd.Codec{}))
		buf := make([]T, 0, 4096)
		for r := range rows {
			buf = append(buf, r)
			if len(buf) == cap(buf) {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
		return w.Close()
	})
}
