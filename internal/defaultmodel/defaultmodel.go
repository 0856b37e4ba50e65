// Package defaultmodel holds the model built into llamago: stories260K, a trained 260K-parameter
// TinyStories LLaMA (MIT, Andrej Karpathy's tinyllamas, GGUF conversion by ggml-org; see README.md and
// LICENSE here). Commands that run a model use it when no -m is given, so a fresh clone works offline.
//
// The GGUF reader maps files, so Path writes the embedded bytes once to the user's cache folder and
// returns that file; a file already there is reused only when its size and SHA-256 match.
package defaultmodel

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// Name is the built-in model's name, as printed to users.
const Name = "stories260K"

// SHA256 is the checksum of the embedded file.
const SHA256 = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d"

//go:embed stories260K.gguf
var data []byte

// Bytes returns the embedded GGUF file (do not modify it).
func Bytes() []byte { return data }

// Path returns the path of a file holding the built-in model, writing it on first use into
// $XDG_CACHE_HOME/llamago (or the OS's equivalent), else into the temporary folder.
func Path() (string, error) {
	var errs []error
	for _, dir := range cacheDirs() {
		p, err := ensure(dir)
		if err == nil {
			return p, nil
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("built-in model: could not write it anywhere: %v", errs)
}

func cacheDirs() []string {
	var dirs []string
	if d, err := os.UserCacheDir(); err == nil {
		dirs = append(dirs, filepath.Join(d, "llamago"))
	}
	return append(dirs, filepath.Join(os.TempDir(), fmt.Sprintf("llamago-%d", os.Getuid())))
}

// ensure makes dir/stories260K-<hash prefix>.gguf hold the embedded bytes and returns its path.
func ensure(dir string) (string, error) {
	p := filepath.Join(dir, fmt.Sprintf("%s-%s.gguf", Name, SHA256[:12]))
	if valid(p) {
		return p, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// Write beside, then rename: a concurrent reader sees the whole file or none.
	tmp, err := os.CreateTemp(dir, "."+Name+"-*.gguf")
	if err != nil {
		return "", err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return p, nil
}

// valid reports whether p holds exactly the embedded bytes (size first, then content: a stale or
// truncated copy is rewritten).
func valid(p string) bool {
	st, err := os.Stat(p)
	if err != nil || st.Size() != int64(len(data)) {
		return false
	}
	b, err := os.ReadFile(p)
	return err == nil && bytes.Equal(b, data)
}

// Checksum returns the SHA-256 of the embedded bytes, hex-encoded (equal to SHA256 unless the file
// beside this package was replaced).
func Checksum() string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
