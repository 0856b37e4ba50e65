package cpu

import "testing"

func TestModeError(t *testing.T) {
	for v, bad := range map[string]bool{"": false, "avx2": false, "avx2-novnni": false, "avx512": true, "AVX2": true} {
		t.Setenv("LLAMAGO_CPU", v)
		if got := ModeError() != nil; got != bad {
			t.Errorf("LLAMAGO_CPU=%q: error %v, want %v", v, got, bad)
		}
	}
}

func TestModeErrorStrips(t *testing.T) {
	for v, bad := range map[string]bool{"": false, "1": false, "4": false, "2": true, "one": true} {
		t.Setenv("LLAMAGO_CPU_STRIPS", v)
		if got := ModeError() != nil; got != bad {
			t.Errorf("LLAMAGO_CPU_STRIPS=%q: error %v, want %v", v, got, bad)
		}
	}
}
