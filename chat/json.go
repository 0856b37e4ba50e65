package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ardanlabs/jinja"
)

// maxJSONDepth bounds the nesting of decoded input, so a hostile request cannot exhaust the stack.
const maxJSONDepth = 1000

// decodeJSON decodes one JSON value into a template value the way Python's json.loads builds one:
// objects keep their key order (a repeated key keeps its first position and takes the last value),
// numbers written without a fraction or exponent are integers and the others floats (an integer too
// large for int64 becomes a float), and null is none.
func decodeJSON(data []byte) (jinja.Value, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return jinja.Undefined(), errors.New("empty JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return jinja.Undefined(), jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return jinja.Undefined(), fmt.Errorf("invalid JSON: more data after the value at byte %d", dec.InputOffset())
	}
	return v, nil
}

// jsonError words a decoding error as one line that says it is about JSON.
func jsonError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("invalid JSON: unexpected end of input")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "invalid JSON") {
		msg = "invalid JSON: " + msg
	}
	return errors.New(msg)
}

func decodeValue(dec *json.Decoder, depth int) (jinja.Value, error) {
	tok, err := dec.Token()
	if err != nil {
		return jinja.Undefined(), err
	}
	switch t := tok.(type) {
	case nil:
		return jinja.None(), nil
	case bool:
		return jinja.NewBool(t), nil
	case string:
		return jinja.NewString(t), nil
	case json.Number:
		return numberValue(t)
	case json.Delim:
		if depth >= maxJSONDepth {
			return jinja.Undefined(), fmt.Errorf("invalid JSON: nested deeper than %d levels", maxJSONDepth)
		}
		switch t {
		case '[':
			items := []jinja.Value{}
			for dec.More() {
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return jinja.Undefined(), err
				}
				items = append(items, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return jinja.Undefined(), err
			}
			return jinja.NewList(items), nil
		case '{':
			obj := jinja.NewDict()
			d := obj.AsDict()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return jinja.Undefined(), err
				}
				key, ok := kt.(string)
				if !ok { // the decoder's own syntax check reports this first; kept as a guard
					return jinja.Undefined(), fmt.Errorf("invalid JSON: object key %v is not a string", kt)
				}
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return jinja.Undefined(), err
				}
				d.Set(key, v)
			}
			if _, err := dec.Token(); err != nil { // '}'
				return jinja.Undefined(), err
			}
			return obj, nil
		}
	}
	return jinja.Undefined(), fmt.Errorf("invalid JSON: unexpected %v", tok)
}

// numberValue is an int for a number written as an integer that fits int64, else a float.
func numberValue(n json.Number) (jinja.Value, error) {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return jinja.NewInt(i), nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) { // out of range: ±Inf, as Python's float() gives
		return jinja.Undefined(), fmt.Errorf("invalid JSON: number %s: %v", s, err)
	}
	return jinja.NewFloat(f), nil
}

// kindName names a decoded value's JSON type, for error messages.
func kindName(v jinja.Value) string {
	switch {
	case v.IsNone():
		return "null"
	case v.IsBool():
		return "a boolean"
	case v.IsInt(), v.IsFloat():
		return "a number"
	case v.IsString():
		return "a string"
	case v.IsList():
		return "an array"
	case v.IsDict():
		return "an object"
	}
	return "undefined"
}
