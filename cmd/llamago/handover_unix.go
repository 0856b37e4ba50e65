//go:build unix

package main

import "syscall"

// execv replaces this process with path (argv, env), as a shell's exec does: the CUDA build gets this
// process's id, terminal and signals.
func execv(path string, argv, env []string) error { return syscall.Exec(path, argv, env) }
