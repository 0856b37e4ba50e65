package engine

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// memoryLimit is the most memory one allocation plan may ask for: the machine's physical memory where the
// system says (MemTotal in /proc/meminfo), else 1 TiB. A KV cache larger than this cannot be allocated, so
// it is refused with its size instead of ending the process out of memory.
func memoryLimit() int64 {
	const fallback = 1 << 40
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return fallback
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil || kb <= 0 {
				return fallback
			}
			return kb << 10
		}
	}
	return fallback
}
