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

// TestCreateRefusesSpecialFiles: renaming over a device node replaced it with a regular file (as root,
// synth -o /dev/null would replace the system's /dev/null); FIFOs, sockets and directories are refused
// too, and a symbolic link is followed so the link stays and its target is replaced (F11).
func TestCreateRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	for path, want := range map[string]string{
		fifo:        "is a named pipe (FIFO): outputs are written only to regular files",
		"/dev/null": "is a character device",
		dir:         "is a directory",
	} {
		_, err := Create(path, "t")
		require.ErrorContains(t, err, want, path)
	}
	entries, _ := os.ReadDir(dir)
	require.Len(t, entries, 1, "no temporary file left")

	target := filepath.Join(dir, "real.bin")
	require.NoError(t, os.WriteFile(target, []byte("old"), 0o644))
	link := filepath.Join(dir, "link.bin")
	require.NoError(t, os.Symlink("real.bin", link))
	require.NoError(t, WriteFile(link, "t", []byte("new")))
	st, err := os.Lstat(link)
	require.NoError(t, err)
	require.NotZero(t, st.Mode()&os.ModeSymlink, "the link is kept")
	got, _ := os.ReadFile(target)
	require.Equal(t, "new", string(got), "its target is replaced")

	require.NoError(t, os.Symlink("missing", filepath.Join(dir, "dangling")))
	_, err = Create(filepath.Join(dir, "dangling"), "t")
	require.ErrorContains(t, err, "symbolic link to a file that does not exist")
}

// TestNotInput: an output that is an input, by name, symbolic link or hard link, is refused (F5).
func TestNotInput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "m.gguf")
	require.NoError(t, os.WriteFile(in, []byte("model"), 0o644))
	require.NoError(t, os.Symlink("m.gguf", filepath.Join(dir, "sym")))
	require.NoError(t, os.Link(in, filepath.Join(dir, "hard")))
	for _, out := range []string{in, dir + "/./m.gguf", filepath.Join(dir, "sym"), filepath.Join(dir, "hard")} {
		require.ErrorContains(t, NotInput(out, "other", in), "is the input", out)
	}
	require.NoError(t, NotInput(filepath.Join(dir, "new.npy"), in))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "x.npy"), nil, 0o644))
	require.NoError(t, NotInput(filepath.Join(dir, "x.npy"), in, ""))
}

// TestCreateNamesThePathGiven: an error names the output asked for, not the hidden file beside it.
func TestCreateNamesThePathGiven(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nodir", "x.gguf")
	_, err := Create(path, "quantize")
	require.EqualError(t, err, "cannot write "+path+": the folder "+filepath.Dir(path)+" does not exist")
	require.ErrorIs(t, err, os.ErrNotExist)
	if os.Geteuid() == 0 {
		return // root writes into a read-only folder
	}
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o555))
	defer os.Chmod(dir, 0o755)
	_, err = Create(filepath.Join(dir, "x.gguf"), "quantize")
	require.ErrorIs(t, err, os.ErrPermission)
	require.ErrorContains(t, err, "create "+filepath.Join(dir, "x.gguf")+": ")
	require.NotContains(t, err.Error(), ".quantize-")
}
