//go:build unix

package atomicfile

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCommitHonoursUmask(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no umask on Windows")
	}
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dst := filepath.Join(t.TempDir(), "m.gguf")
	f, err := Create(dst, "synth")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(filepath.Base(f.Name()), ".synth-"), f.Name())
	_, err = f.WriteString("data")
	require.NoError(t, err)
	require.NoError(t, f.Commit())
	st, err := os.Stat(dst)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), st.Mode().Perm(), "0666 less the umask 022, as touch gives")
	f.Abort() // after Commit: nothing
	require.FileExists(t, dst)
	require.NoFileExists(t, f.Name())
}

func TestAbortRemoves(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "m.gguf")
	f, err := Create(dst, "q")
	require.NoError(t, err)
	f.Abort()
	require.NoFileExists(t, f.Name())
	require.NoFileExists(t, dst)
	entries, _ := os.ReadDir(filepath.Dir(dst))
	require.Empty(t, entries)
}

// TestInterruptRemovesTemp runs this test binary as a child that opens a temporary file and waits; a
// SIGINT must remove the file and end the child by that signal (exit status 130 in a shell).
func TestInterruptRemovesTemp(t *testing.T) {
	if dir := os.Getenv("ATOMICFILE_CHILD"); dir != "" {
		f, err := Create(filepath.Join(dir, "big.gguf"), "synth")
		if err != nil {
			os.Exit(3)
		}
		f.WriteString("partial")
		os.Stdout.WriteString(f.Name() + "\n")
		time.Sleep(time.Minute)
		os.Exit(4)
	}
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT to send on Windows")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestInterruptRemovesTemp$")
	cmd.Env = append(os.Environ(), "ATOMICFILE_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	name, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	name = strings.TrimSpace(name)
	require.FileExists(t, name)
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	err = cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	ws := ee.Sys().(syscall.WaitStatus)
	require.True(t, ws.Signaled(), "the child should die of the signal, got %v", err)
	require.Equal(t, syscall.SIGINT, ws.Signal())
	require.NoFileExists(t, name, "the interrupted write left its temporary file")
	entries, _ := os.ReadDir(dir)
	require.Empty(t, entries)
}
