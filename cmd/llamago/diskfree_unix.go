//go:build unix

package main

import "syscall"

// diskFree is the space an unprivileged user may still write in the file system holding dir, in bytes; 0
// where it cannot be told.
func diskFree(dir string) float64 {
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) != nil {
		return 0
	}
	return float64(st.Bavail) * float64(st.Bsize)
}
