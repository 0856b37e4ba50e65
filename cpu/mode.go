package cpu

import (
	"fmt"
	"os"
)

// ModeError reports an LLAMAGO_CPU value the kernels do not know (they then ignore it), so that a typo does
// not silently measure the wrong kernels.
func ModeError() error {
	switch v := os.Getenv("LLAMAGO_CPU"); v {
	case "", "avx2", "avx2-novnni":
		return nil
	default:
		return fmt.Errorf("LLAMAGO_CPU=%q is not a kernel set: use avx2 (no AVX-512) or avx2-novnni (no AVX-512, no AVX-VNNI), or leave it unset", v)
	}
}
