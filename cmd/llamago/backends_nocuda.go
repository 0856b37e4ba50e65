//go:build !cuda

package main

func backendsCompiled() string { return "cpu" }
