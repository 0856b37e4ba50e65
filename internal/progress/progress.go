// Package progress shows progress bars for long work on a terminal and stays silent otherwise
// (pipes, CI logs), so scripted output is never cluttered.
package progress

import (
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Bar reports progress toward a total.
type Bar struct{ bar *progressbar.ProgressBar }

// Enabled reports whether stderr is a terminal.
func Enabled() bool { return term.IsTerminal(int(os.Stderr.Fd())) }

// New returns a bar on stderr for total units (bytes when bytes is true), or a silent one when stderr
// is not a terminal or quiet is set.
func New(total int64, desc string, bytes, quiet bool) *Bar {
	if quiet || !Enabled() {
		return &Bar{}
	}
	return &Bar{progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowBytes(bytes),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetPredictTime(true),
	)}
}

// Set moves the bar to done.
func (b *Bar) Set(done int64) {
	if b.bar != nil {
		_ = b.bar.Set64(done)
	}
}

// SetTotal changes the total (for work whose size is known only once it starts).
func (b *Bar) SetTotal(total int64) {
	if b.bar != nil && b.bar.GetMax64() != total {
		b.bar.ChangeMax64(total)
	}
}

// Finish completes and clears the bar.
func (b *Bar) Finish() {
	if b.bar != nil {
		_ = b.bar.Finish()
	}
}
