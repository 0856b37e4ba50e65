package cpu

import (
	"fmt"
	"os"
)

// ModeError reports an LLAMAGO_CPU (or LLAMAGO_CPU_STRIPS) value the kernels do not know (they then ignore
// it), so that a typo does not silently measure the wrong kernels.
func ModeError() error {
	if v := os.Getenv("LLAMAGO_CPU_STRIPS"); v != "" && v != "1" && v != "4" {
		return fmt.Errorf("LLAMAGO_CPU_STRIPS=%q: the one-token kernels read 1 or 4 strips of 16 rows at once; use 1 or 4, or leave it unset (one on AMD, four elsewhere)", v)
	}
	switch v := os.Getenv("LLAMAGO_CPU"); v {
	case "", "avx2", "avx2-novnni":
		return nil
	default:
		return fmt.Errorf("LLAMAGO_CPU=%q is not a kernel set: use avx2 (no AVX-512) or avx2-novnni (no AVX-512, no AVX-VNNI), or leave it unset", v)
	}
}
