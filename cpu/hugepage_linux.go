//go:build linux && amd64

package cpu

import (
	"os"

	"golang.org/x/sys/unix"
)

// adviseHuge asks Linux to back b (whole 2 MiB pages, aligned) with transparent huge pages: a decoding step
// streams every packed byte once, and with 4 KiB pages it walks the page tables every 4 KiB (twice over
// in a virtual machine). Advice only: where huge pages are off, or none is free, nothing changes.
func adviseHuge(b []byte) {
	if len(b) > 0 {
		_ = unix.Madvise(b, unix.MADV_HUGEPAGE)
	}
}

// releaseUnused gives the whole pages inside b, which the caller never touches, back to the system (they
// read as zeros again if ever touched).
func releaseUnused(b []byte) {
	page := os.Getpagesize()
	skip := int((uintptr(page) - uintptrOf(b)%uintptr(page)) % uintptr(page))
	if skip >= len(b) {
		return
	}
	if n := (len(b) - skip) / page * page; n > 0 {
		_ = unix.Madvise(b[skip:skip+n], unix.MADV_DONTNEED)
	}
}

// hugePages: x86-64 Linux, whose huge pages are 2 MiB (hugePage); packed rows exist only on amd64.
const hugePages = true
