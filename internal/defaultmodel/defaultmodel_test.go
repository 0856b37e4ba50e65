package defaultmodel

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/stretchr/testify/require"
)

func TestEmbeddedIsStories260K(t *testing.T) {
	require.Equal(t, SHA256, Checksum(), "the embedded file is not the stories260K.gguf named in README.md")
	require.Len(t, Bytes(), 1185376)
}

func TestPathWritesOnceAndRepairs(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("HOME", cache)
	p, err := Path()
	require.NoError(t, err)
	require.True(t, filepath.IsAbs(p) || filepath.Dir(p) != "", p)
	st, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, int64(len(data)), st.Size())
	require.Equal(t, os.FileMode(0o644), st.Mode().Perm())

	f, err := gguf.Open(p)
	require.NoError(t, err)
	cfg, err := f.LlamaConfig()
	require.NoError(t, err)
	require.Equal(t, 5, cfg.BlockCount)
	f.Close()

	// A truncated or altered copy is replaced, not used.
	require.NoError(t, os.WriteFile(p, data[:1000], 0o644))
	p2, err := Path()
	require.NoError(t, err)
	require.Equal(t, p, p2)
	b, err := os.ReadFile(p2)
	require.NoError(t, err)
	require.Equal(t, data, b)
	bad := append([]byte(nil), data...)
	bad[len(bad)-1] ^= 1
	require.NoError(t, os.WriteFile(p, bad, 0o644))
	_, err = Path()
	require.NoError(t, err)
	b, _ = os.ReadFile(p)
	require.Equal(t, data, b)
}
