package chat

import (
	"regexp"
	"strings"
)

// prepareSource turns a chat template as jinja2 reads it into what the library should compile:
//   - line ends are normalized to \n and one trailing newline is dropped, as jinja2 does by default
//     (keep_trailing_newline=False);
//   - `|tojson` inside {{ }} and {% %} tags becomes `|py_tojson` (see pyToJSON). Text outside tags,
//     comments, string literals in tags and {% raw %} blocks are left alone.
func prepareSource(src string) string {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	src = strings.ReplaceAll(src, "\r", "\n")
	src = strings.TrimSuffix(src, "\n")
	if !strings.Contains(src, "tojson") {
		return src
	}
	var b strings.Builder
	b.Grow(len(src) + 16)
	inRaw := false
	for i := 0; i < len(src); {
		open := strings.Index(src[i:], "{")
		if open < 0 || i+open+1 >= len(src) {
			b.WriteString(src[i:])
			break
		}
		open += i
		var closer string
		switch src[open+1] {
		case '{':
			closer = "}}"
		case '%':
			closer = "%}"
		case '#':
			closer = "#}"
		default:
			b.WriteString(src[i : open+1])
			i = open + 1
			continue
		}
		b.WriteString(src[i:open])
		end := tagEnd(src, open+2, closer)
		tag := src[open:end]
		switch {
		case closer == "#}":
			b.WriteString(tag) // a comment
		case closer == "%}" && rawTag.MatchString(tag):
			inRaw = true
			b.WriteString(tag)
		case closer == "%}" && endrawTag.MatchString(tag):
			inRaw = false
			b.WriteString(tag)
		case inRaw:
			b.WriteString(tag)
		default:
			b.WriteString(rewriteToJSON(tag))
		}
		i = end
	}
	return b.String()
}

var (
	rawTag    = regexp.MustCompile(`^\{%[-+]?\s*raw\s*[-+]?%\}$`)
	endrawTag = regexp.MustCompile(`^\{%[-+]?\s*endraw\s*[-+]?%\}$`)
	toJSONRef = regexp.MustCompile(`^\|\s*tojson\b`)
)

// tagEnd returns the index just past the closer that ends the tag whose body starts at i, skipping
// string literals in {{ }} and {% %} tags; the end of src when the tag is not closed (the library then
// reports the error).
func tagEnd(src string, i int, closer string) int {
	var quote byte
	for ; i < len(src); i++ {
		c := src[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case (c == '\'' || c == '"') && closer != "#}":
			quote = c
		case strings.HasPrefix(src[i:], closer):
			return i + len(closer)
		}
	}
	return len(src)
}

// rewriteToJSON renames the tojson filter in one tag, outside string literals.
func rewriteToJSON(tag string) string {
	var b strings.Builder
	var quote byte
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		switch {
		case quote != 0:
			if c == '\\' && i+1 < len(tag) {
				b.WriteByte(c)
				i++
				c = tag[i]
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '|':
			if m := toJSONRef.FindString(tag[i:]); m != "" {
				b.WriteString("|py_tojson")
				i += len(m) - 1
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}
