package main

import (
	"github.com/llamago/llamago/engine"
)

// runCapture collects attention during 'llamago run --capture-attn DIR'.
type runCapture struct{}

func newRunCapture(dir string, lm *loadedModel, s *engine.Session) (*runCapture, error) {
	if dir == "" {
		return nil, nil
	}
	return nil, usagef("--capture-attn is not available yet (issue #6)")
}

func (c *runCapture) write(prompt, gen []int32) error { return nil }
