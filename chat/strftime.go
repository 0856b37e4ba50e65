package chat

import (
	"strconv"
	"strings"
	"time"
)

// strftime formats t like Python's datetime.strftime on Linux (glibc, C locale), which is what a
// template's strftime_now("%d %b %Y") gets under Hugging Face. It knows the C89 and POSIX conversions,
// Python's %f, and glibc's padding flags: %-d (no padding), %_d (spaces), %0e (zeros). An unknown
// conversion is copied as written, as glibc does.
func strftime(format string, t time.Time) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 >= len(format) {
			b.WriteByte(c)
			continue
		}
		start := i
		i++
		var flag byte
		if f := format[i]; (f == '-' || f == '_' || f == '0') && i+1 < len(format) {
			flag = f
			i++
		}
		if !strftimeConv(&b, format[i], flag, t) {
			b.WriteString(format[start : i+1])
		}
	}
	return b.String()
}

// strftimeConv writes conversion c of t and reports whether it knows c.
func strftimeConv(b *strings.Builder, c, flag byte, t time.Time) bool {
	// num writes n at least width wide, padded with pad ('0' or ' ') unless a flag says otherwise.
	num := func(n, width int, pad byte) {
		switch flag {
		case '-':
			width = 0
		case '_':
			pad = ' '
		case '0':
			pad = '0'
		}
		s := strconv.Itoa(n)
		for k := len(s); k < width; k++ {
			b.WriteByte(pad)
		}
		b.WriteString(s)
	}
	hour12 := t.Hour() % 12
	if hour12 == 0 {
		hour12 = 12
	}
	switch c {
	case 'a':
		b.WriteString(t.Weekday().String()[:3])
	case 'A':
		b.WriteString(t.Weekday().String())
	case 'b', 'h':
		b.WriteString(t.Month().String()[:3])
	case 'B':
		b.WriteString(t.Month().String())
	case 'c':
		b.WriteString(strftime("%a %b %e %H:%M:%S %Y", t))
	case 'C':
		num(t.Year()/100, 2, '0')
	case 'd':
		num(t.Day(), 2, '0')
	case 'D':
		b.WriteString(strftime("%m/%d/%y", t))
	case 'e':
		num(t.Day(), 2, ' ')
	case 'f':
		num(t.Nanosecond()/1000, 6, '0')
	case 'F':
		b.WriteString(strftime("%Y-%m-%d", t))
	case 'G':
		y, _ := t.ISOWeek()
		num(y, 4, '0')
	case 'g':
		y, _ := t.ISOWeek()
		num(y%100, 2, '0')
	case 'H':
		num(t.Hour(), 2, '0')
	case 'I':
		num(hour12, 2, '0')
	case 'j':
		num(t.YearDay(), 3, '0')
	case 'k':
		num(t.Hour(), 2, ' ')
	case 'l':
		num(hour12, 2, ' ')
	case 'm':
		num(int(t.Month()), 2, '0')
	case 'M':
		num(t.Minute(), 2, '0')
	case 'n':
		b.WriteByte('\n')
	case 'p':
		if t.Hour() < 12 {
			b.WriteString("AM")
		} else {
			b.WriteString("PM")
		}
	case 'P':
		if t.Hour() < 12 {
			b.WriteString("am")
		} else {
			b.WriteString("pm")
		}
	case 'r':
		b.WriteString(strftime("%I:%M:%S %p", t))
	case 'R':
		b.WriteString(strftime("%H:%M", t))
	case 's':
		b.WriteString(strconv.FormatInt(t.Unix(), 10))
	case 'S':
		num(t.Second(), 2, '0')
	case 't':
		b.WriteByte('\t')
	case 'T':
		b.WriteString(strftime("%H:%M:%S", t))
	case 'u':
		num((int(t.Weekday())+6)%7+1, 1, '0')
	case 'U': // week of the year, weeks starting on Sunday
		num((t.YearDay()+6-int(t.Weekday()))/7, 2, '0')
	case 'V':
		_, w := t.ISOWeek()
		num(w, 2, '0')
	case 'w':
		num(int(t.Weekday()), 1, '0')
	case 'W': // week of the year, weeks starting on Monday
		num((t.YearDay()+6-(int(t.Weekday())+6)%7)/7, 2, '0')
	case 'x':
		b.WriteString(strftime("%m/%d/%y", t))
	case 'X':
		b.WriteString(strftime("%H:%M:%S", t))
	case 'y':
		num(t.Year()%100, 2, '0')
	case 'Y':
		num(t.Year(), 1, '0')
	case 'z':
		b.WriteString(t.Format("-0700"))
	case 'Z':
		name, _ := t.Zone()
		b.WriteString(name)
	case '%':
		b.WriteByte('%')
	default:
		return false
	}
	return true
}
