//go:build unix

package gguf

import (
	"fmt"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapped lists the live mappings mapFile made, so that ReleasePages touches nothing else.
var mapped struct {
	sync.Mutex
	spans map[uintptr]uintptr // start → end
}

// mapFile maps path read-only and shared, so the page cache backs the weights.
func mapFile(path string) ([]byte, func() error, error) {
	if err := checkRegular(path); err != nil {
		return nil, nil, err
	}
	// O_NONBLOCK: should the path turn into a FIFO after the check, open must not wait for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, nil, notRegular(path, st.Mode())
	}
	size := st.Size()
	if size == 0 {
		return nil, nil, fmt.Errorf("%s: file is empty, not a GGUF model", path)
	}
	if int64(int(size)) != size {
		return nil, nil, fmt.Errorf("%s: file of %d bytes is too large to map", path, size)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: mmap: %w", path, err)
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	mapped.Lock()
	if mapped.spans == nil {
		mapped.spans = map[uintptr]uintptr{}
	}
	mapped.spans[start] = start + uintptr(len(data))
	mapped.Unlock()
	return data, func() error {
		mapped.Lock()
		delete(mapped.spans, start)
		mapped.Unlock()
		return syscall.Munmap(data)
	}, nil
}

// MapsFiles says whether Open maps model files (here: yes), so that ReleasePages can give a copied
// tensor's pages back; where it reads them into memory instead, a second copy would double the memory.
const MapsFiles = true

// ReleasePages lets the kernel drop from memory the whole pages of b, if b lies in a model file mapped by
// Open (else it does nothing): a backend that has copied tensor data elsewhere (a layout chosen at load)
// keeps the process's resident memory at one copy. The bytes stay readable: a later read brings them back
// from the file.
func ReleasePages(b []byte) {
	if len(b) == 0 {
		return
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	hi := lo + uintptr(len(b))
	mapped.Lock()
	defer mapped.Unlock()
	for start, end := range mapped.spans {
		if lo < start || hi > end {
			continue
		}
		page := uintptr(os.Getpagesize())
		first, last := (lo+page-1)&^(page-1), hi&^(page-1) // the whole pages inside b
		if first < last {
			// MADV_DONTNEED on a shared read-only file mapping drops this process's copies of the pages;
			// the page cache keeps the file. An error leaves the pages where they are, which is harmless.
			_ = unix.Madvise(b[first-lo:last-lo], unix.MADV_DONTNEED)
		}
		return
	}
}
