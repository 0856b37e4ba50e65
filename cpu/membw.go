package cpu

// readAll reads every byte of p and folds them into a value the compiler cannot drop: the memory read
// bandwidth probe of BenchmarkReadBandwidth (the roofline beside decoding speed in bench/compare.sh).
func readAll(p []byte) uint64 {
	n := len(p) &^ 255
	var x uint64
	if n > 0 {
		x = readVec(p[:n])
	}
	for _, b := range p[n:] {
		x ^= uint64(b)
	}
	return x
}
