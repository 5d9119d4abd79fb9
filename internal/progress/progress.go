// Package progress reports long work: a redrawn bar with tokens/s and ETA on a terminal, plain lines
// every few seconds otherwise (logs, Slurm, CI).
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Bar tracks units (tokens) done out of a total (0: unknown).
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	label    string
	unit     string
	total    int64
	done     int64
	start    time.Time
	last     time.Time
	interval time.Duration
	finished bool
}

// New writes to w (nil: discard). total may be 0 when unknown.
func New(w io.Writer, label, unit string, total int64) *Bar {
	b := &Bar{w: w, label: label, unit: unit, total: total, start: time.Now(), interval: 5 * time.Second}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			b.tty, b.interval = true, 200*time.Millisecond
		}
	}
	return b
}

// Add records n more units done.
func (b *Bar) Add(n int64) {
	if b == nil || b.w == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	if now := time.Now(); now.Sub(b.last) >= b.interval {
		b.last = now
		b.draw(false)
	}
}

// Rate is units per second so far.
func (b *Bar) Rate() float64 {
	el := time.Since(b.start).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(b.done) / el
}

// Finish draws the final state and ends the line.
func (b *Bar) Finish() {
	if b == nil || b.w == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.finished {
		b.finished = true
		b.draw(true)
	}
}

func (b *Bar) draw(final bool) {
	rate := b.Rate()
	var sb strings.Builder
	sb.WriteString(b.label)
	if b.total > 0 {
		frac := float64(b.done) / float64(b.total)
		if frac > 1 {
			frac = 1
		}
		if b.tty {
			const width = 30
			n := int(frac * width)
			sb.WriteString(" [" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "]")
		}
		fmt.Fprintf(&sb, " %3.0f%% %d/%d %s", 100*frac, b.done, b.total, b.unit)
	} else {
		fmt.Fprintf(&sb, " %d %s", b.done, b.unit)
	}
	fmt.Fprintf(&sb, " %.0f %s/s", rate, b.unit)
	if b.total > 0 && rate > 0 && !final {
		eta := time.Duration(float64(b.total-b.done) / rate * float64(time.Second)).Round(time.Second)
		fmt.Fprintf(&sb, " ETA %s", eta)
	} else if final {
		fmt.Fprintf(&sb, " in %s", time.Since(b.start).Round(time.Millisecond))
	}
	if b.tty {
		fmt.Fprintf(b.w, "\r\033[K%s", sb.String())
		if final {
			fmt.Fprintln(b.w)
		}
	} else {
		fmt.Fprintln(b.w, sb.String())
	}
}
