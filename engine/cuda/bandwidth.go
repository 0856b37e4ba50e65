//go:build cuda || cudaemu

package cuda

import (
	"fmt"
	"time"
)

// CopyBandwidth measures device-to-device copy bandwidth (bytes read + written per second) with buffers of
// size bytes, the roofline decode speed is compared against.
func (b *Backend) CopyBandwidth(size int64, reps int) (float64, error) {
	var bw float64
	err := b.do(func() error {
		src, err := b.alloc(size, "bandwidth test")
		if err != nil {
			return err
		}
		dst, err := b.alloc(size, "bandwidth test")
		if err != nil {
			return err
		}
		if err := b.drv.dtodAsync(dst, src, size); err != nil { // warm-up
			return err
		}
		if err := b.drv.sync(); err != nil {
			return err
		}
		t0 := time.Now()
		for i := 0; i < reps; i++ {
			if err := b.drv.dtodAsync(dst, src, size); err != nil {
				return fmt.Errorf("cuda: copy: %w", err)
			}
		}
		if err := b.drv.sync(); err != nil {
			return err
		}
		bw = float64(2*size*int64(reps)) / time.Since(t0).Seconds()
		return nil
	})
	return bw, err
}
