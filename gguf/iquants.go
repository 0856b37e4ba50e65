package gguf

// The non-linear 4-bit formats: each 4-bit code indexes a fixed table of int8 levels.
//
//	IQ4_NL (18 B, 32 elements):   d fp16 | qs[16]                    y = d·T[q]
//	IQ4_XS (136 B, 256 elements): d fp16 | scales_h u16 | scales_l[4] | qs[128]
//	        8 sub-blocks of 32, each with a 6-bit scale ls (biased by 32): y = d·(ls−32)·T[q]

// iq4nlLevels is the IQ4_NL/IQ4_XS level table T.
var iq4nlLevels = [16]int8{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}

// DequantizeBlockIQ4_NL expands one IQ4_NL block into y[0:32].
func DequantizeBlockIQ4_NL(b []byte, y []float32) {
	d := halfAt(b)
	qs := b[2:18]
	for j := 0; j < 16; j++ {
		y[j] = d * float32(iq4nlLevels[qs[j]&0xf])
		y[j+16] = d * float32(iq4nlLevels[qs[j]>>4])
	}
}

// DequantizeBlockIQ4_XS expands one IQ4_XS super-block into y[0:256].
func DequantizeBlockIQ4_XS(b []byte, y []float32) {
	d := halfAt(b)
	sh := le16(b[2:])
	sl := b[4:8]
	qs := b[8:136]
	for ib := 0; ib < 8; ib++ {
		ls := int(sl[ib/2]>>(4*uint(ib%2))&0xf) | int(sh>>(2*uint(ib))&3)<<4
		dl := d * float32(ls-32)
		q := qs[16*ib:]
		out := y[32*ib:]
		for j := 0; j < 16; j++ {
			out[j] = dl * float32(iq4nlLevels[q[j]&0xf])
			out[j+16] = dl * float32(iq4nlLevels[q[j]>>4])
		}
	}
}
