package attnviz

import (
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// viridis control points (matplotlib's colormap, sampled at 0, .25, .5, .75, 1).
var viridis = [5][3]float64{{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}}

func colormap(v float64) color.RGBA {
	v = math.Max(0, math.Min(1, v)) * 4
	i := min(int(v), 3)
	f := v - float64(i)
	a, b := viridis[i], viridis[i+1]
	c := func(k int) uint8 { return uint8(a[k] + (b[k]-a[k])*f + 0.5) }
	return color.RGBA{c(0), c(1), c(2), 255}
}

// label makes a token printable in the 7×13 ASCII font: control characters escaped, others → '?'.
func label(s string, maxLen int) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r >= 32 && r < 127:
			b.WriteRune(r)
		default:
			b.WriteRune('?')
		}
	}
	out := b.String()
	if len(out) > maxLen {
		out = out[:maxLen-1] + "~"
	}
	return out
}

func drawText(img draw.Image, x, y int, s string, c color.Color) {
	d := &font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// writeHeatmapPNG draws m (rows = query positions, columns = key positions) as a heatmap scaled to its
// maximum, with the tokens along the left (queries) and the top (keys, rotated), and a title.
func writeHeatmapPNG(path string, m [][]float64, tokens []string, title string) error {
	n := len(m)
	cell := max(6, min(28, 640/max(n, 1)))
	const maxLabel = 14
	labelW := 7*maxLabel + 8
	top := labelW + 24
	left := labelW
	w, h := left+n*cell+16, top+n*cell+16
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	drawText(img, 6, 15, title, color.Black)
	mx := 0.0
	for _, row := range m {
		for _, v := range row {
			mx = math.Max(mx, v)
		}
	}
	if mx == 0 {
		mx = 1
	}
	for q := 0; q < n; q++ {
		for k := 0; k < n; k++ {
			c := color.RGBA{235, 235, 235, 255} // future keys: masked
			if k <= q {
				c = colormap(m[q][k] / mx)
			}
			draw.Draw(img, image.Rect(left+k*cell, top+q*cell, left+(k+1)*cell-1, top+(q+1)*cell-1), image.NewUniform(c), image.Point{}, draw.Src)
		}
	}
	for i, tok := range tokens {
		s := label(tok, maxLabel)
		y := top + i*cell + cell/2 + 4
		drawText(img, left-4-7*len(s), y, s, color.Black)
		// Key labels: draw horizontally into a strip, then rotate it 90° counter-clockwise above column i.
		strip := image.NewRGBA(image.Rect(0, 0, labelW, 13))
		draw.Draw(strip, strip.Bounds(), image.White, image.Point{}, draw.Src)
		drawText(strip, 2, 10, s, color.Black)
		x0 := left + i*cell + cell/2 - 6
		for sx := 0; sx < labelW; sx++ {
			for sy := 0; sy < 13; sy++ {
				img.Set(x0+sy, top-4-sx, strip.At(sx, sy))
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
