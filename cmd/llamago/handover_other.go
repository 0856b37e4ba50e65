//go:build !unix

package main

import "errors"

func execv(string, []string, []string) error {
	return errors.New("handing over to the CUDA build works on Linux only: run it directly")
}
