// Package atomicfile writes an output file beside its destination and renames it into place on success,
// so a failed run never leaves a truncated file under the final name. Two things os.CreateTemp does not
// give: the file is created with mode 0666 less the umask (0644 for most users, as touch and llama.cpp's
// tools give; CreateTemp's 0600 hides models from other users and servers), and the hidden temporary
// file is removed when the process is interrupted (SIGINT, SIGTERM, SIGHUP) before it is committed:
// a Ctrl-C in the middle of writing a 7B model must not leave gigabytes of invisible junk.
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
)

// File is an open temporary file that becomes path on Commit.
type File struct {
	*os.File
	path string
	done bool
}

var (
	mu      sync.Mutex
	pending = map[string]bool{} // temporary files to remove on a signal
	watch   sync.Once
)

// Create opens a new hidden file beside path (".<prefix>-<random><ext>") for writing. What is already at
// path decides: nothing, or a regular file, is replaced on Commit; a symbolic link is followed, so the file
// it points to is replaced and the link kept; a directory, device, FIFO or socket is refused (renaming over
// /dev/null as root would replace the system's /dev/null).
func Create(path, prefix string) (*File, error) {
	path, err := Target(path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	for range 100 {
		var r [6]byte
		if _, err := rand.Read(r[:]); err != nil {
			return nil, err
		}
		name := filepath.Join(dir, "."+prefix+"-"+hex.EncodeToString(r[:])+filepath.Ext(path))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666) // the umask applies
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &noFolderError{path, dir}
		}
		if err != nil { // named by the path given, not the hidden file's
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, &fs.PathError{Op: "create", Path: path, Err: err}
		}
		track(name)
		return &File{File: f, path: path}, nil
	}
	return nil, &fs.PathError{Op: "create temporary", Path: path, Err: fs.ErrExist}
}

// noFolderError is Create's error when the destination's folder is missing: errors.Is(err,
// fs.ErrNotExist) holds.
type noFolderError struct{ path, dir string }

func (e *noFolderError) Error() string {
	return fmt.Sprintf("cannot write %s: the folder %s does not exist", e.path, e.dir)
}

func (e *noFolderError) Unwrap() error { return fs.ErrNotExist }

// Target is the file an output written to path replaces: path itself, or the file a symbolic link at path
// leads to. It is an error when that is something other than a regular file or nothing.
func Target(path string) (string, error) {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return path, nil
	}
	if err != nil {
		return "", err
	}
	if st.Mode()&fs.ModeSymlink != 0 {
		real, err := filepath.EvalSymlinks(path)
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%s is a symbolic link to a file that does not exist: give the path to write", path)
		}
		if err != nil {
			return "", err
		}
		return Target(real)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is %s: outputs are written only to regular files", path, kind(st.Mode()))
	}
	return path, nil
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "not a regular file"
}

// NotInput refuses an output path that is (after links, hard links included) one of the inputs: writing
// the output would destroy the input it is made from. Inputs that do not exist are ignored.
func NotInput(out string, inputs ...string) error {
	ost, err := os.Stat(out)
	if err != nil {
		return nil // nothing there yet: it cannot be an input
	}
	for _, in := range inputs {
		if in == "" {
			continue
		}
		if ist, err := os.Stat(in); err == nil && os.SameFile(ost, ist) {
			return fmt.Errorf("the output %s is the input %s: write to another file", out, in)
		}
	}
	return nil
}

// WriteFile writes data to path atomically (see Create).
func WriteFile(path, prefix string, data []byte) error {
	f, err := Create(path, prefix)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Commit()
}

// Commit closes the file and renames it to its destination.
func (f *File) Commit() error {
	if f.done {
		return errors.New("atomicfile: already committed or aborted")
	}
	f.done = true
	defer untrack(f.Name())
	if err := f.File.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), f.path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// Abort closes and removes the temporary file; after Commit it does nothing (so it can be deferred).
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.File.Close()
	os.Remove(f.Name())
	untrack(f.Name())
}

func track(name string) {
	mu.Lock()
	pending[name] = true
	mu.Unlock()
	watch.Do(func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
		go func() {
			sig := <-c
			RemovePending()
			// Die of the same signal, so the exit status is what it would have been (130 for Ctrl-C).
			signal.Reset(sig)
			if p, err := os.FindProcess(os.Getpid()); err == nil {
				p.Signal(sig)
			}
		}()
	})
}

func untrack(name string) {
	mu.Lock()
	delete(pending, name)
	mu.Unlock()
}

// RemovePending removes every temporary file not yet committed or aborted.
func RemovePending() {
	mu.Lock()
	defer mu.Unlock()
	for name := range pending {
		os.Remove(name)
		delete(pending, name)
	}
}
