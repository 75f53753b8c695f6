package update

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws a one-line bar on a terminal, at most ten times a second.
type progress struct {
	w     io.Writer
	name  string
	total int64
	n     int64
	last  time.Time
}

func (p *progress) Write(b []byte) (int, error) {
	p.n += int64(len(b))
	if time.Since(p.last) > 100*time.Millisecond {
		p.draw()
	}
	return len(b), nil
}

func (p *progress) draw() {
	p.last = time.Now()
	const width = 30
	if p.total <= 0 {
		fmt.Fprintf(p.w, "\r%s %.1f MB", p.name, float64(p.n)/1e6)
		return
	}
	frac := min(float64(p.n)/float64(p.total), 1)
	fill := int(frac * width)
	fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%% %.1f/%.1f MB", p.name, strings.Repeat("=", fill), strings.Repeat(" ", width-fill),
		frac*100, float64(p.n)/1e6, float64(p.total)/1e6)
}

func (p *progress) done() { p.draw(); fmt.Fprintln(p.w) }
