// Package testutil finds the shared fixtures (models, llama.cpp references) that live beside the checkout.
package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// SharedDir returns the shared fixtures folder: $LLAMAGO_SHARED if set, else the first "shared" folder
// with a models/ subfolder found beside the module root or one of its parents. It returns "" when none exists.
func SharedDir() string {
	if d := os.Getenv("LLAMAGO_SHARED"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		cand := filepath.Join(dir, "shared")
		if st, err := os.Stat(filepath.Join(cand, "models")); err == nil && st.IsDir() {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Shared returns the path of a file or folder under the shared fixtures, skipping the test with a clear
// message when the fixtures are not there (a fresh checkout without ../shared still passes).
func Shared(t testing.TB, rel string) string {
	t.Helper()
	dir := SharedDir()
	if dir == "" {
		t.Skipf("shared fixtures not found (looked for ../shared/models beside the checkout; set LLAMAGO_SHARED): skipping %s", rel)
	}
	p := filepath.Join(dir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared fixture %s is absent: %v", p, err)
	}
	return p
}
