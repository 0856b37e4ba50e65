package chat

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ardanlabs/jinja"
)

// Hugging Face renders chat templates with its own tojson filter:
//
//	tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False) = json.dumps(x, ...)
//
// The library's builtin tojson differs in ways that change prompts (v1.8.0 sorts keys and escapes <>&
// under indent=, and prints floats the Go way), and builtin filters cannot be replaced. So Compile
// rewrites `|tojson` in the template to `|py_tojson`, and Render passes pyToJSON under that name.

// dumpOptions are the json.dumps arguments that tojson passes on.
type dumpOptions struct {
	ensureASCII     bool
	indented        bool   // indent is not None
	indent          string // one level of indentation
	itemSep, keySep string
	sortKeys        bool
}

// tojsonParams are tojson's parameters after x, in order (Python accepts them positionally too).
var tojsonParams = []string{"ensure_ascii", "indent", "separators", "sort_keys"}

// pyToJSON is Hugging Face's tojson filter: args[0] is the value, the rest and kwargs are its options.
func pyToJSON(args []jinja.Value, kwargs map[string]jinja.Value) (jinja.Value, error) {
	if len(args) == 0 {
		return jinja.Undefined(), fmt.Errorf("tojson: missing the value to encode")
	}
	if len(args) > 1+len(tojsonParams) {
		return jinja.Undefined(), fmt.Errorf("tojson takes at most %d arguments, got %d", len(tojsonParams), len(args)-1)
	}
	opt := map[string]jinja.Value{}
	for i, a := range args[1:] {
		opt[tojsonParams[i]] = a
	}
	for k, v := range kwargs {
		if !slices.Contains(tojsonParams, k) {
			return jinja.Undefined(), fmt.Errorf("tojson got an unexpected keyword argument %q", k)
		}
		if _, dup := opt[k]; dup {
			return jinja.Undefined(), fmt.Errorf("tojson got multiple values for argument %q", k)
		}
		opt[k] = v
	}
	o, err := dumpOptionsFrom(opt)
	if err != nil {
		return jinja.Undefined(), err
	}
	s, err := pyDumps(args[0], o)
	if err != nil {
		return jinja.Undefined(), err
	}
	return jinja.NewString(s), nil
}

// given reports whether an optional argument was passed as something other than None.
func given(v jinja.Value, ok bool) bool { return ok && !v.IsNone() && !v.IsUndefined() }

func dumpOptionsFrom(opt map[string]jinja.Value) (dumpOptions, error) {
	o := dumpOptions{itemSep: ", ", keySep: ": "}
	o.ensureASCII = opt["ensure_ascii"].IsTruthy()
	o.sortKeys = opt["sort_keys"].IsTruthy()
	if v, ok := opt["indent"]; given(v, ok) {
		o.indented = true
		o.itemSep = "," // json.dumps drops the space before a newline
		switch {
		case v.IsInt():
			o.indent = strings.Repeat(" ", int(max(0, min(v.AsInt(), 1<<10))))
		case v.IsBool(): // a Python bool is an int
			if v.AsBool() {
				o.indent = " "
			}
		case v.IsString():
			o.indent = v.AsString()
		default:
			return o, fmt.Errorf("tojson: indent must be an integer or a string, not %s", pyTypeName(v))
		}
	}
	if v, ok := opt["separators"]; given(v, ok) {
		if !v.IsList() || v.AsList().Len() != 2 || !v.AsList().Get(0).IsString() || !v.AsList().Get(1).IsString() {
			return o, fmt.Errorf("tojson: separators must be a pair of strings, like (',', ':')")
		}
		o.itemSep, o.keySep = v.AsList().Get(0).AsString(), v.AsList().Get(1).AsString()
	}
	return o, nil
}

// pyDumps is Python's json.dumps(v, ...) with o's options (allow_nan and check_circular at their defaults).
func pyDumps(v jinja.Value, o dumpOptions) (string, error) {
	var b strings.Builder
	if err := o.encode(&b, v, 0); err != nil {
		return "", err
	}
	return b.String(), nil
}

func (o *dumpOptions) encode(b *strings.Builder, v jinja.Value, level int) error {
	switch {
	case v.IsNone():
		b.WriteString("null")
	case v.IsBool():
		b.WriteString(strconv.FormatBool(v.AsBool()))
	case v.IsInt():
		b.WriteString(strconv.FormatInt(v.AsInt(), 10))
	case v.IsFloat():
		b.WriteString(jsonFloat(v.AsFloat()))
	case v.IsString():
		o.quote(b, v.AsString())
	case v.IsList():
		items := v.AsList().Items
		if len(items) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		for i, item := range items {
			if i > 0 {
				b.WriteString(o.itemSep)
			}
			o.newline(b, level+1)
			if err := o.encode(b, item, level+1); err != nil {
				return err
			}
		}
		o.newline(b, level)
		b.WriteByte(']')
	case v.IsDict():
		d := v.AsDict()
		if d.Len() == 0 {
			b.WriteString("{}")
			return nil
		}
		keys := d.Keys
		if o.sortKeys {
			keys = slices.Sorted(slices.Values(keys)) // byte order of UTF-8 is code point order, as in Python
		}
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(o.itemSep)
			}
			o.newline(b, level+1)
			o.quote(b, k)
			b.WriteString(o.keySep)
			val, _ := d.Get(k)
			if err := o.encode(b, val, level+1); err != nil {
				return err
			}
		}
		o.newline(b, level)
		b.WriteByte('}')
	default:
		return fmt.Errorf("tojson: object of type %s is not JSON serializable", pyTypeName(v))
	}
	return nil
}

// newline starts a line indented to level when the output is indented.
func (o *dumpOptions) newline(b *strings.Builder, level int) {
	if !o.indented {
		return
	}
	b.WriteByte('\n')
	for range level {
		b.WriteString(o.indent)
	}
}

const hexDigits = "0123456789abcdef"

// quote writes s as a JSON string the way json.dumps does: the short escapes for \" \\ \n \r \t \b \f,
// \u00XX (lowercase) for the other control characters, and with ensureASCII every character outside
// printable ASCII as \uXXXX (a surrogate pair above U+FFFF).
func (o *dumpOptions) quote(b *strings.Builder, s string) {
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			i++
			continue
		}
		if c >= utf8.RuneSelf && !o.ensureASCII {
			i++
			continue
		}
		b.WriteString(s[start:i])
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				b.WriteString(`\"`)
			case '\\':
				b.WriteString(`\\`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			default: // other control characters, and DEL under ensureASCII
				if c == 0x7f && !o.ensureASCII {
					b.WriteByte(c)
				} else {
					writeU4(b, rune(c))
				}
			}
			i++
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r >= 0x10000 {
				r -= 0x10000
				writeU4(b, 0xd800|(r>>10)&0x3ff)
				writeU4(b, 0xdc00|r&0x3ff)
			} else {
				writeU4(b, r)
			}
			i += size
		}
		start = i
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}

func writeU4(b *strings.Builder, r rune) {
	b.WriteString(`\u`)
	for shift := 12; shift >= 0; shift -= 4 {
		b.WriteByte(hexDigits[(r>>shift)&0xf])
	}
}

// jsonFloat is json.dumps's spelling of a float: Python's repr (the shortest digits that read back to
// f; positional between 1e-4 and 1e16, always with a '.' or an exponent, as in 1.0, 0.0001, 1e-05,
// 1e+16), and NaN, Infinity, -Infinity for the values JSON has no number for.
func jsonFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return pyFloatRepr(f)
}

// pyFloatRepr is Python's repr of a float.
func pyFloatRepr(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // shortest round-trip digits, "d.ddde±XX"
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return e // Go writes the exponent as Python does: a sign and at least two digits
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsRune(s, '.') {
		s += ".0"
	}
	return s
}

// pyTypeName names a value's type as Python would (for error messages that match jinja2's).
func pyTypeName(v jinja.Value) string {
	switch {
	case v.IsUndefined():
		return "Undefined"
	case v.IsNone():
		return "NoneType"
	case v.IsBool():
		return "bool"
	case v.IsInt():
		return "int"
	case v.IsFloat():
		return "float"
	case v.IsString():
		return "str"
	case v.IsList():
		return "list"
	case v.IsDict():
		return "dict"
	case v.IsCallable():
		return "function"
	}
	return "object"
}

// pyStr is Python's str(v), as raise_exception and strftime_now see their argument.
func pyStr(v jinja.Value) string {
	switch {
	case v.IsString():
		return v.AsString()
	case v.IsFloat():
		return pyFloatRepr(v.AsFloat())
	case v.IsUndefined():
		return ""
	}
	return v.String()
}
