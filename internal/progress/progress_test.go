package progress

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

// clock is a fake time source that moves only when told.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }
func near(got, want float64) bool        { return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want)) }
func lastLine(s string) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return l[len(l)-1]
}

func TestRates(t *testing.T) {
	type add struct {
		after time.Duration // time since the previous event (New or the previous Add)
		n     int64
	}
	const batch = 4096
	for _, tc := range []struct {
		name      string
		total     int64
		adds      []add
		tail      time.Duration // from the last Add to Finish
		rate      float64
		warm      float64
		finalLine string
	}{
		{
			name:      "no Add",
			total:     0,
			tail:      2 * time.Second,
			finalLine: "entropy 0 tok 0 tok/s in 2s",
		},
		{
			name:      "one batch: no steady-state rate",
			total:     batch,
			adds:      []add{{4 * time.Second, batch}},
			rate:      batch / 4.0,
			finalLine: "entropy 100% 4096/4096 tok 1024 tok/s in 4s",
		},
		{
			// A slow first batch (warm-up), then five at 1 s each: overall 6·4096/10 s, steady
			// 5·4096/5 s.
			name:  "slow first batch",
			total: 6 * batch,
			adds: []add{
				{5 * time.Second, batch}, {time.Second, batch}, {time.Second, batch},
				{time.Second, batch}, {time.Second, batch}, {time.Second, batch},
			},
			rate:      6 * batch / 10.0,
			warm:      batch,
			finalLine: "entropy 100% 24576/24576 tok 2458 tok/s (4096 tok/s after the first batch) in 10s",
		},
		{
			// Uneven batches: the first Add's units are left out of the steady-state rate, and the
			// time from the last Add to Finish counts only in the overall rate.
			name:      "uneven batches, time after the last Add",
			total:     0,
			adds:      []add{{3 * time.Second, 100}, {500 * time.Millisecond, 300}, {1500 * time.Millisecond, 700}},
			tail:      time.Second,
			rate:      1100 / 6.0,
			warm:      1000 / 2.0,
			finalLine: "entropy 1100 tok 183 tok/s (500 tok/s after the first batch) in 6s",
		},
		{
			name:      "second Add at the same instant: no steady-state rate",
			total:     2 * batch,
			adds:      []add{{2 * time.Second, batch}, {0, batch}},
			rate:      batch,
			finalLine: "entropy 100% 8192/8192 tok 4096 tok/s in 2s",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			var buf bytes.Buffer
			b := newBar(&buf, "entropy", "tok", tc.total, c.now)
			for _, a := range tc.adds {
				c.advance(a.after)
				b.Add(a.n)
			}
			c.advance(tc.tail)
			if got := b.WarmRate(); !near(got, tc.warm) {
				t.Errorf("WarmRate = %g, want %g", got, tc.warm)
			}
			b.Finish()
			if got := b.Rate(); !near(got, tc.rate) {
				t.Errorf("Rate = %g, want %g", got, tc.rate)
			}
			if got := lastLine(buf.String()); got != tc.finalLine {
				t.Errorf("final line\n got %q\nwant %q", got, tc.finalLine)
			}
		})
	}
}

// Only the final line carries the steady-state rate; the periodic lines keep their ETA.
func TestPeriodicLineHasNoWarmRate(t *testing.T) {
	c := newClock()
	var buf bytes.Buffer
	b := newBar(&buf, "freqs", "tok", 300, c.now)
	for range 2 {
		c.advance(10 * time.Second) // beyond the 5 s interval of a non-terminal writer: a line each
		b.Add(100)
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2: %q", len(lines), buf.String())
	}
	if want := "freqs  67% 200/300 tok 10 tok/s ETA 10s"; lines[1] != want {
		t.Errorf("periodic line\n got %q\nwant %q", lines[1], want)
	}
	if got := b.WarmRate(); got != 10 {
		t.Errorf("WarmRate = %g, want 10", got)
	}
}

// Drop lowers the total: the ETA counts only what is left and the bar ends at 100 %.
func TestDrop(t *testing.T) {
	c := newClock()
	var buf bytes.Buffer
	b := newBar(&buf, "generate", "tok", 400, c.now)
	c.advance(10 * time.Second)
	b.Drop(100)
	b.Add(100)
	if want := "generate  33% 100/300 tok 10 tok/s ETA 20s"; lastLine(buf.String()) != want {
		t.Errorf("after Drop\n got %q\nwant %q", lastLine(buf.String()), want)
	}
	b.Drop(1000) // never below what is done
	c.advance(time.Second)
	b.Finish()
	if !strings.HasPrefix(lastLine(buf.String()), "generate 100% 100/100 tok") {
		t.Errorf("final line %q", lastLine(buf.String()))
	}
	var nilBar *Bar
	nilBar.Drop(1)
}

// A nil Bar and a Bar without a writer do nothing and report no rate.
func TestNoWriter(t *testing.T) {
	var nilBar *Bar
	nilBar.Add(1)
	nilBar.Finish()
	b := New(nil, "x", "tok", 10)
	b.Add(5)
	b.Add(5)
	b.Finish()
	for _, r := range []float64{nilBar.Rate(), nilBar.WarmRate(), b.Rate(), b.WarmRate()} {
		if r != 0 {
			t.Errorf("rate %g, want 0", r)
		}
	}
}
