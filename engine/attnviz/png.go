package attnviz

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/llamago/llamago/internal/atomicfile"
	"golang.org/x/image/font"
	"golang.org/x/image/font/inconsolata"
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

// labelFace is the font token labels are drawn in: Inconsolata 8×16, which has Latin-1 and most of
// Latin Extended-A (café, très, ł); other characters are written as \uXXXX.
func labelFace() font.Face { return inconsolata.Regular8x16 }

// label makes a token legible in the label font: a token of only whitespace shows each space as · and
// each newline as ¶ (else it would be an empty label), control characters are escaped, characters the
// font has no glyph for (CJK, emoji) are written as \uXXXX, and long labels end in "~".
func label(s string, maxLen int) string {
	fc := labelFace()
	has := func(r rune) bool { _, ok := fc.GlyphAdvance(r); return ok }
	blank := strings.TrimSpace(s) == ""
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1: // a byte token, part of a character split across tokens
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case blank && r == ' ':
			b.WriteRune('·')
		case blank && r == '\n':
			b.WriteRune('¶')
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 32 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case !has(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	out := []rune(b.String())
	if len(out) > maxLen {
		out = append(out[:maxLen-1], '~')
	}
	return string(out)
}

func textWidth(s string) int { return font.MeasureString(labelFace(), s).Ceil() }

func drawText(img draw.Image, x, y int, s string, c color.Color) {
	d := &font.Drawer{Dst: img, Src: image.NewUniform(c), Face: labelFace(), Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// drawTextUp draws s rotated 90° counter-clockwise with its baseline's start at (x, y), reading upwards.
func drawTextUp(img *image.RGBA, x, y int, s string, c color.Color) {
	w := textWidth(s) + 2
	strip := image.NewRGBA(image.Rect(0, 0, w, 16))
	drawText(strip, 0, 12, s, c)
	for sx := 0; sx < w; sx++ {
		for sy := 0; sy < 16; sy++ {
			if _, _, _, a := strip.At(sx, sy).RGBA(); a > 0 {
				blend(img, x+sy-12, y-sx, strip.RGBAAt(sx, sy))
			}
		}
	}
}

// blend draws the premultiplied colour c over img's pixel at (x, y).
func blend(img *image.RGBA, x, y int, c color.RGBA) {
	if !(image.Point{x, y}.In(img.Bounds())) {
		return
	}
	d := img.RGBAAt(x, y)
	a := 255 - uint32(c.A)
	mix := func(s uint8, d uint8) uint8 { return uint8(uint32(s) + uint32(d)*a/255) }
	img.SetRGBA(x, y, color.RGBA{mix(c.R, d.R), mix(c.G, d.G), mix(c.B, d.B), 255})
}

var (
	genColor  = color.RGBA{200, 70, 0, 255} // generated tokens' labels
	gridColor = color.RGBA{235, 235, 235, 255}
)

// writeHeatmapPNG draws m (rows = query positions, the attending tokens; columns = key positions, the
// tokens attended to) as a heatmap scaled to its maximum, with token labels on the left and the top
// (each with its position, as the summary numbers them; generated tokens in orange, after a line, said
// under the colour bar), axis titles, a title and a colour bar naming valueName. Labels are thinned when
// rows are too small to hold one each.
func writeHeatmapPNG(path string, m [][]float64, tokens []string, prompt int, title, valueName string) error {
	n := len(m)
	cell := max(2, min(28, 640/max(n, 1)))
	step := (14 + cell - 1) / cell // label every step-th token: at least 14 px per label
	const maxLabel = 14
	labels := make([]string, len(tokens))
	labelW := 0
	for i, tok := range tokens {
		labels[i] = fmt.Sprintf("%d %s", i, label(tok, maxLabel))
		labelW = max(labelW, textWidth(labels[i]))
	}
	labelW += 8
	top := 22 + 18 + labelW // title, axis title, key labels
	left := 18 + labelW     // axis title, query labels
	barX := left + n*cell + 18
	barH := max(120, min(200, n*cell))
	const genNote = "orange, after the line: generated"
	w, h := barX+16+64, max(top+n*cell+16, top+barH+16, top+textWidth("rows: queries, the attending tokens")+8)
	if prompt > 0 && prompt < n { // a second column of text beside the colour bar's
		w += 16
		h = max(h, top+textWidth(genNote)+8)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	drawText(img, 6, 15, title, color.Black)
	gray := color.RGBA{90, 90, 90, 255}
	drawText(img, left, 22+13, "columns: keys, the tokens attended to", gray)
	drawTextUp(img, 14, top+max(n*cell, textWidth("rows: queries, the attending tokens")), "rows: queries, the attending tokens", gray)
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
			c := gridColor // future keys: masked
			if k <= q {
				c = colormap(m[q][k] / mx)
			}
			gap := 1
			if cell < 6 {
				gap = 0
			}
			draw.Draw(img, image.Rect(left+k*cell, top+q*cell, left+(k+1)*cell-gap, top+(q+1)*cell-gap), image.NewUniform(c), image.Point{}, draw.Src)
		}
	}
	if prompt > 0 && prompt < n { // a line between the prompt and the generated tokens
		sep := image.NewUniform(genColor)
		draw.Draw(img, image.Rect(left-4, top+prompt*cell-1, left+n*cell, top+prompt*cell+1), sep, image.Point{}, draw.Src)
		draw.Draw(img, image.Rect(left+prompt*cell-1, top-4, left+prompt*cell+1, top+n*cell), sep, image.Point{}, draw.Src)
	}
	for i := range tokens {
		if i%step != 0 && i != prompt-1 && i != n-1 {
			continue
		}
		if i != n-1 && i%step != 0 && i+1 < n && (i+1)%step == 0 {
			continue
		}
		s := labels[i]
		c := color.Color(color.Black)
		if i >= prompt {
			c = genColor
		}
		drawText(img, left-4-textWidth(s), top+i*cell+cell/2+4, s, c)
		drawTextUp(img, left+i*cell+cell/2+4, top-4, s, c)
	}
	// Colour bar: 0 at the bottom, the map's maximum at the top.
	for y := 0; y < barH; y++ {
		c := colormap(1 - float64(y)/float64(barH-1))
		draw.Draw(img, image.Rect(barX, top+y, barX+16, top+y+1), image.NewUniform(c), image.Point{}, draw.Src)
	}
	drawText(img, barX+20, top+10, fmt.Sprintf("%.2f", mx), color.Black)
	drawText(img, barX+20, top+barH, "0", color.Black)
	drawTextUp(img, barX+62, top+barH, valueName, gray)
	if prompt > 0 && prompt < n {
		drawTextUp(img, barX+78, top+textWidth(genNote), genNote, genColor)
	}
	f, err := atomicfile.Create(path, "attnviz")
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := png.Encode(f, img); err != nil {
		return err
	}
	return f.Commit()
}
