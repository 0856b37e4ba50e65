package testutil

import (
	"os/exec"
	"testing"
)

// Chromium is the path of Debian's headless-capable Chromium (or another Chrome); a test without one is
// skipped with a message that says how to get it (.ci/run installs it).
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed (apt-get install chromium; .ci/run installs it): skipping the test in a browser")
	return ""
}
