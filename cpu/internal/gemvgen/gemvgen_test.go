package gemvgen

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated files in package cpu")

// TestFilesAreFresh: the committed kernels are what this package writes (run with -update to rewrite them).
func TestFilesAreFresh(t *testing.T) {
	for name, want := range Files() {
		path := filepath.Join("..", "..", name)
		if *update {
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("cpu/%s is not what gemvgen writes: run go test ./cpu/internal/gemvgen -update", name)
		}
	}
}
