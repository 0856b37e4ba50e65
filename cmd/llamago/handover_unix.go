//go:build unix

package main

import "syscall"

// execv replaces this process with path (argv, env), as a shell's exec does: the CUDA build gets this
// process's id, terminal and signals.
func execv(path string, argv, env []string) error { return syscall.Exec(path, argv, env) }

// executable reports whether this process may run path (its permission bits for our user, not any).
func executable(path string) bool { return syscall.Access(path, 1) == nil } // 1: X_OK
