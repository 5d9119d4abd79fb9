// Package progress reports long work: a redrawn bar with tokens/s and ETA on a terminal, plain lines
// every few seconds otherwise (logs, Slurm, CI). The final line also gives the rate after the first
// Add (the first batch), which carries warm-up on a GPU: see WarmRate.
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
	now      func() time.Time // the clock; tests inject one
	adds     int              // calls to Add so far
	first    time.Time        // when the first Add came (the end of the first batch)
	firstN   int64            // units done by the first Add
	lastAdd  time.Time        // when the last Add came
}

// New writes to w (nil: discard). total may be 0 when unknown.
func New(w io.Writer, label, unit string, total int64) *Bar {
	return newBar(w, label, unit, total, time.Now)
}

func newBar(w io.Writer, label, unit string, total int64, now func() time.Time) *Bar {
	b := &Bar{w: w, label: label, unit: unit, total: total, start: now(), interval: 5 * time.Second, now: now}
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
	now := b.now()
	if b.adds == 0 {
		b.first, b.firstN = now, b.done
	}
	b.adds++
	b.lastAdd = now
	if now.Sub(b.last) >= b.interval {
		b.last = now
		b.draw(false)
	}
}

// Drop takes n units off the total: work that turned out not to be needed (generated rows that ended
// early), so that the bar still ends at 100 % and its ETA counts only what is left.
func (b *Bar) Drop(n int64) {
	if b == nil || b.w == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total = max(b.total-n, b.done)
}

// Rate is units per second so far, from New to now (after Finish: to now, not to the last Add), the
// first Add included.
func (b *Bar) Rate() float64 {
	if b == nil || b.w == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rate()
}

func (b *Bar) rate() float64 {
	el := b.now().Sub(b.start).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(b.done) / el
}

// WarmRate is the steady-state rate: units per second from the end of the first Add to the last
// Add, i.e. the units of every Add but the first over the time they took. The first batch carries
// one-off costs (on a GPU: cuBLAS handles, CUDA graph capture, first touch of the weights) that
// Rate spreads over the whole run. 0 until a second Add has come some time after the first.
func (b *Bar) WarmRate() float64 {
	if b == nil || b.w == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.warmRate()
}

func (b *Bar) warmRate() float64 {
	if b.adds < 2 {
		return 0
	}
	el := b.lastAdd.Sub(b.first).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(b.done-b.firstN) / el
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
	rate := b.rate()
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
	if warm := b.warmRate(); final && warm > 0 {
		fmt.Fprintf(&sb, " (%.0f %s/s after the first batch)", warm, b.unit)
	}
	if b.total > 0 && rate > 0 && !final {
		eta := time.Duration(float64(b.total-b.done) / rate * float64(time.Second)).Round(time.Second)
		fmt.Fprintf(&sb, " ETA %s", eta)
	} else if final {
		fmt.Fprintf(&sb, " in %s", b.now().Sub(b.start).Round(time.Millisecond))
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
