package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ardanlabs/jinja"
	"github.com/stretchr/testify/require"
)

func mustDecode(t *testing.T, s string) jinja.Value {
	t.Helper()
	v, err := decodeJSON([]byte(s))
	require.NoError(t, err, s)
	return v
}

func TestDecodeJSONKeepsOrderAndTypes(t *testing.T) {
	v := mustDecode(t, `{"z": 1, "a": {"y": [true, null, "s"], "b": 2.0}, "m": -3, "a2": 1e2, "big": 12345678901234567890, "z": 9}`)
	require.True(t, v.IsDict())
	d := v.AsDict()
	require.Equal(t, []string{"z", "a", "m", "a2", "big"}, d.OrderedKeys(), "first position of a repeated key, as Python's dict")
	z, _ := d.Get("z")
	require.True(t, z.IsInt())
	require.Equal(t, int64(9), z.AsInt(), "last value of a repeated key")
	a, _ := d.Get("a")
	require.Equal(t, []string{"y", "b"}, a.AsDict().OrderedKeys())
	b, _ := a.AsDict().Get("b")
	require.True(t, b.IsFloat(), "2.0 stays a float")
	y, _ := a.AsDict().Get("y")
	items := y.AsList().Items
	require.True(t, items[0].IsBool() && items[0].AsBool())
	require.True(t, items[1].IsNone())
	require.Equal(t, "s", items[2].AsString())
	m, _ := d.Get("m")
	require.Equal(t, int64(-3), m.AsInt())
	a2, _ := d.Get("a2")
	require.True(t, a2.IsFloat(), "1e2 is a float in Python")
	big, _ := d.Get("big")
	require.True(t, big.IsFloat(), "beyond int64")
	require.Equal(t, 1.2345678901234567e19, big.AsFloat())

	require.True(t, mustDecode(t, " null ").IsNone())
	require.Equal(t, 0, mustDecode(t, "[]").AsList().Len())
	require.Equal(t, 0, mustDecode(t, "{}").AsDict().Len())
	require.Equal(t, "ü😀\n", mustDecode(t, `"\u00fc\ud83d\ude00\n"`).AsString())
}

func TestDecodeJSONErrors(t *testing.T) {
	for in, want := range map[string]string{
		``:          "empty JSON",
		`[1, 2`:     "invalid JSON: unexpected end of input",
		`{"a": 1,}`: "invalid JSON",
		`[1] [2]`:   "more data after the value",
		`{"a" 1}`:   "invalid JSON",
		`[01]`:      "invalid JSON",
		strings.Repeat("[", 2000) + strings.Repeat("]", 2000): "nested deeper than 1000 levels",
	} {
		_, err := decodeJSON([]byte(in))
		require.Error(t, err, in)
		require.Contains(t, err.Error(), want, in)
		require.NotContains(t, err.Error(), "\n")
	}
}

// The expected strings below are what Python 3's json.dumps prints for the same values.
func TestPyDumps(t *testing.T) {
	v := mustDecode(t, `{"b": 1, "a": [1.0, 1e-07, 0.0001, 1e16, 1e15, -0.0, 2.5, 123456789.125, 1e22, 5e-324, 0.1, 1.7976931348623157e308],
		"s": "ünï \"q\" \\ \n\t\u0001\u007f 日本 😀 </tag> &", "n": null, "t": true, "e": {}, "l": []}`)
	dumps := func(kwargs map[string]jinja.Value) string {
		t.Helper()
		out, err := pyToJSON([]jinja.Value{v}, kwargs)
		require.NoError(t, err)
		return out.AsString()
	}
	require.Equal(t, `{"b": 1, "a": [1.0, 1e-07, 0.0001, 1e+16, 1000000000000000.0, -0.0, 2.5, 123456789.125, 1e+22, 5e-324, 0.1, 1.7976931348623157e+308], "s": "ünï \"q\" \\ \n\t\u0001`+"\x7f"+` 日本 😀 </tag> &", "n": null, "t": true, "e": {}, "l": []}`,
		dumps(nil))

	s := jinja.NewString("ünï \"q\" \\ \n\t\x01\x7f 日本 😀 </tag> &")
	out, err := pyToJSON([]jinja.Value{s}, map[string]jinja.Value{"ensure_ascii": jinja.NewBool(true)})
	require.NoError(t, err)
	require.Equal(t, `"\u00fcn\u00ef \"q\" \\ \n\t\u0001\u007f \u65e5\u672c \ud83d\ude00 </tag> &"`, out.AsString())

	require.Equal(t, `{
  "a": [
    1.0,
    1e-07,
    0.0001,
    1e+16,
    1000000000000000.0,
    -0.0,
    2.5,
    123456789.125,
    1e+22,
    5e-324,
    0.1,
    1.7976931348623157e+308
  ],
  "b": 1,
  "e": {},
  "l": [],
  "n": null,
  "s": "ünï \"q\" \\ \n\t\u0001`+"\x7f"+` 日本 😀 </tag> &",
  "t": true
}`, dumps(map[string]jinja.Value{"indent": jinja.NewInt(2), "sort_keys": jinja.NewBool(true)}))

	nested := mustDecode(t, `{"a": [1, {"b": null}]}`)
	for _, c := range []struct {
		args   []jinja.Value
		kwargs map[string]jinja.Value
		want   string
	}{
		{nil, nil, `{"a": [1, {"b": null}]}`},
		{nil, map[string]jinja.Value{"separators": jinja.NewList([]jinja.Value{jinja.NewString(","), jinja.NewString(":")})}, `{"a":[1,{"b":null}]}`},
		{nil, map[string]jinja.Value{"indent": jinja.NewString("\t")}, "{\n\t\"a\": [\n\t\t1,\n\t\t{\n\t\t\t\"b\": null\n\t\t}\n\t]\n}"},
		{nil, map[string]jinja.Value{"indent": jinja.NewInt(0)}, "{\n\"a\": [\n1,\n{\n\"b\": null\n}\n]\n}"},
		{nil, map[string]jinja.Value{"indent": jinja.None()}, `{"a": [1, {"b": null}]}`},
		// indent with explicit separators keeps the item separator's space before the newline
		{nil, map[string]jinja.Value{"indent": jinja.NewInt(1), "separators": jinja.NewList([]jinja.Value{jinja.NewString(", "), jinja.NewString(": ")})}, "{\n \"a\": [\n  1, \n  {\n   \"b\": null\n  }\n ]\n}"},
		// positional: tojson(x, ensure_ascii, indent)
		{[]jinja.Value{jinja.NewBool(false), jinja.NewInt(1)}, nil, "{\n \"a\": [\n  1,\n  {\n   \"b\": null\n  }\n ]\n}"},
	} {
		out, err := pyToJSON(append([]jinja.Value{nested}, c.args...), c.kwargs)
		require.NoError(t, err, "%v %v", c.args, c.kwargs)
		require.Equal(t, c.want, out.AsString(), "%v %v", c.args, c.kwargs)
	}

	for _, c := range []struct {
		f    float64
		want string
	}{{math.Inf(1), "Infinity"}, {math.Inf(-1), "-Infinity"}, {math.NaN(), "NaN"}, {100, "100.0"}, {1e-5, "1e-05"},
		{1.5e16, "1.5e+16"}, {9999999999999998, "9999999999999998.0"}, {1e100, "1e+100"}, {0.30000000000000004, "0.30000000000000004"}} {
		require.Equal(t, c.want, jsonFloat(c.f), "%v", c.f)
	}

	for _, c := range []struct {
		args   []jinja.Value
		kwargs map[string]jinja.Value
		want   string
	}{
		{[]jinja.Value{jinja.Undefined()}, nil, "object of type Undefined is not JSON serializable"},
		{[]jinja.Value{nested}, map[string]jinja.Value{"indnet": jinja.NewInt(2)}, `unexpected keyword argument "indnet"`},
		{[]jinja.Value{nested, jinja.NewBool(false)}, map[string]jinja.Value{"ensure_ascii": jinja.NewBool(true)}, `multiple values for argument "ensure_ascii"`},
		{[]jinja.Value{nested}, map[string]jinja.Value{"separators": jinja.NewString(",")}, "separators must be a pair of strings"},
		{[]jinja.Value{nested}, map[string]jinja.Value{"indent": jinja.NewFloat(2)}, "indent must be an integer or a string, not float"},
	} {
		_, err := pyToJSON(c.args, c.kwargs)
		require.ErrorContains(t, err, c.want)
	}
}

func TestPrepareSource(t *testing.T) {
	for in, want := range map[string]string{
		"{{ x|tojson }}\n":                                   "{{ x|py_tojson }}",
		"{{ x | tojson(indent=4) }}\n\n":                     "{{ x |py_tojson(indent=4) }}\n",
		"{%- set s = x|\n  tojson -%}\r\nA\r\n":              "{%- set s = x|py_tojson -%}\nA",
		"a|tojson {# x|tojson #} {{ '|tojson' ~ y|tojson }}": "a|tojson {# x|tojson #} {{ '|tojson' ~ y|py_tojson }}",
		`{{ "}}|tojson" }}{{ x|tojsonx }}{{ x|tojson_a }}`:   `{{ "}}|tojson" }}{{ x|tojsonx }}{{ x|tojson_a }}`,
		"{% raw %}{{ x|tojson }}{% endraw %}{{ x|tojson }}":  "{% raw %}{{ x|tojson }}{% endraw %}{{ x|py_tojson }}",
		`{{ 'it\'s|tojson' }}{{ x|tojson }}`:                 `{{ 'it\'s|tojson' }}{{ x|py_tojson }}`,
		"{{ x|tojson":                                        "{{ x|py_tojson",
		"no tags {":                                          "no tags {",
	} {
		require.Equal(t, want, prepareSource(in), "%q", in)
	}
}

func TestStrftime(t *testing.T) {
	// Expected strings from Python's datetime.strftime on Linux.
	const layout = "%a %A %b %B %c %C %d %D %e %F %H %I %j %k %l %m %M %p %P %r %R %S %T %u %U %V %w %W %x %X %y %Y %G %g %-d %-m %_H %f %% %Q"
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2024, 7, 26, 12, 0, 0, 0, time.UTC), "Fri Friday Jul July Fri Jul 26 12:00:00 2024 20 26 07/26/24 26 2024-07-26 12 12 208 12 12 07 00 PM pm 12:00:00 PM 12:00 00 12:00:00 5 29 30 5 30 07/26/24 12:00:00 24 2024 2024 24 26 7 12 000000 % %Q"},
		{time.Date(2024, 1, 1, 0, 5, 9, 0, time.UTC), "Mon Monday Jan January Mon Jan  1 00:05:09 2024 20 01 01/01/24  1 2024-01-01 00 12 001  0 12 01 05 AM am 12:05:09 AM 00:05 09 00:05:09 1 00 01 1 01 01/01/24 00:05:09 24 2024 2024 24 1 1  0 000000 % %Q"},
		{time.Date(2023, 12, 31, 23, 59, 59, 123456000, time.UTC), "Sun Sunday Dec December Sun Dec 31 23:59:59 2023 20 31 12/31/23 31 2023-12-31 23 11 365 23 11 12 59 PM pm 11:59:59 PM 23:59 59 23:59:59 7 53 52 0 52 12/31/23 23:59:59 23 2023 2023 23 31 12 23 123456 % %Q"},
		{time.Date(2021, 1, 3, 13, 0, 0, 0, time.UTC), "Sun Sunday Jan January Sun Jan  3 13:00:00 2021 20 03 01/03/21  3 2021-01-03 13 01 003 13  1 01 00 PM pm 01:00:00 PM 13:00 00 13:00:00 7 01 53 0 00 01/03/21 13:00:00 21 2021 2020 20 3 1 13 000000 % %Q"},
	} {
		require.Equal(t, c.want, strftime(layout, c.t), "%v", c.t)
	}
	require.Equal(t, "26 Jul 2024 %", strftime("%d %b %Y %", fixedNow()))
}

func TestRenderVariablesAndClock(t *testing.T) {
	tmpl, err := Compile(`{{ bos_token }}{{ eos_token }}{{ unk_token }}{{ pad_token }}|{{ add_generation_prompt }}|{{ tools is none }}|` +
		`{{ messages[0].content }}|{{ strftime_now("%Y-%m-%d %H:%M") }}|{{ enable_thinking }}|{{ messages[0] | tojson }}` + "\n")
	require.NoError(t, err)
	in := Input{Messages: json.RawMessage(`[{"role": "user", "content": "hi", "name": "n"}]`), BOS: "<s>", EOS: "</s>", UNK: "<unk>",
		PAD: "<pad>", AddGenerationPrompt: true, Extra: map[string]json.RawMessage{"enable_thinking": json.RawMessage("false")}, Now: fixedNow}
	out, err := tmpl.Render(in)
	require.NoError(t, err)
	require.Equal(t, `<s></s><unk><pad>|True|True|hi|2024-07-26 12:00|False|{"role": "user", "content": "hi", "name": "n"}`, out)

	in.Tools = json.RawMessage("null")
	out2, err := tmpl.Render(in)
	require.NoError(t, err)
	require.Equal(t, out, out2, "null tools is none, as no tools")

	// Without Now the real clock is read.
	in.Now = nil
	tmpl, err = Compile(`{{ strftime_now("%Y") }}`)
	require.NoError(t, err)
	out, err = tmpl.Render(in)
	require.NoError(t, err)
	require.Equal(t, fmt.Sprint(time.Now().Year()), out)
}

// {% generation %} (Hugging Face's marker of assistant text, for training masks) renders its body.
func TestGenerationBlock(t *testing.T) {
	tmpl, err := Compile("{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}[{{ m.content }}]{% endgeneration %}{% else %}{{ m.content }}{% endif %}{% endfor %}")
	require.NoError(t, err)
	out, err := tmpl.Render(Input{Messages: json.RawMessage(`[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]`)})
	require.NoError(t, err)
	require.Equal(t, "q[a]", out)
}

func TestRaiseException(t *testing.T) {
	tmpl, err := Compile(`{%- macro check(m) -%}
{%- if m.role not in ['user', 'assistant'] -%}{{ raise_exception('Unknown role: ' ~ m.role) }}{%- endif -%}
{%- endmacro -%}
{%- for m in messages -%}{%- if loop.index0 > 3 -%}{{ raise_exception(42) }}{%- endif -%}{{ check(m) }}{{ m.content }}{%- endfor -%}`)
	require.NoError(t, err)
	render := func(msgs string) (string, error) {
		return tmpl.Render(Input{Messages: json.RawMessage(msgs)})
	}
	out, err := render(`[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]`)
	require.NoError(t, err)
	require.Equal(t, "ab", out)

	_, err = render(`[{"role": "user", "content": "a"}, {"role": "tool", "content": "b"}]`)
	var re *RaiseError
	require.True(t, errors.As(err, &re), "%T %v", err, err)
	require.Equal(t, "Unknown role: tool", re.Message)
	require.Equal(t, "Unknown role: tool", err.Error())

	_, err = render(`[{"role": "user"}, {"role": "user"}, {"role": "user"}, {"role": "user"}, {"role": "user"}]`)
	require.True(t, errors.As(err, &re))
	require.Equal(t, "42", re.Message)
}

func TestErrors(t *testing.T) {
	_, err := Compile("{% for m in messages %}{{ m.content }}")
	require.ErrorContains(t, err, "chat template does not compile: ")
	require.ErrorContains(t, err, "for")
	require.NotContains(t, err.Error(), "\n")
	_, err = Compile("{{ messages[0] }")
	require.ErrorContains(t, err, "chat template does not compile: ")

	tmpl, err := Compile("{{ messages[0].content|nosuchfilter }}")
	require.NoError(t, err)
	msgs := json.RawMessage(`[{"role": "user", "content": "x"}]`)
	for _, c := range []struct {
		in   Input
		want string
	}{
		{Input{}, "chat input: messages is missing"},
		{Input{Messages: json.RawMessage(`[{"role": "user",}]`)}, "chat input: messages: invalid JSON"},
		{Input{Messages: json.RawMessage(`{"role": "user"}`)}, "chat input: messages is an object, want an array"},
		{Input{Messages: msgs, Tools: json.RawMessage(`{"type": "function"}`)}, "chat input: tools is an object, want an array of tool objects or null"},
		{Input{Messages: msgs, Tools: json.RawMessage(`[`)}, "chat input: tools: invalid JSON: unexpected end of input"},
		{Input{Messages: msgs, Extra: map[string]json.RawMessage{"x": json.RawMessage(`tru`)}}, `chat input: extra variable "x": invalid JSON`},
		{Input{Messages: msgs, Extra: map[string]json.RawMessage{"messages": json.RawMessage(`[]`)}}, `extra variable "messages" is set by the renderer itself`},
		{Input{Messages: msgs}, `chat template: render: unknown filter "nosuchfilter"`},
	} {
		_, err := tmpl.Render(c.in)
		require.ErrorContains(t, err, c.want)
		require.NotContains(t, err.Error(), "\n")
		var re *RaiseError
		require.False(t, errors.As(err, &re))
	}
}

func TestInputUnmarshalJSON(t *testing.T) {
	var in Input
	in.Now = fixedNow
	require.NoError(t, json.Unmarshal([]byte(`{"messages": [{"role": "user", "content": "hi"}], "tools": null,
		"add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
		"custom": {"b": 1, "a": 2}}`), &in))
	require.JSONEq(t, `[{"role": "user", "content": "hi"}]`, string(in.Messages))
	require.Equal(t, "null", string(in.Tools))
	require.True(t, in.AddGenerationPrompt)
	require.Equal(t, []string{"<s>", "</s>", "<unk>", "<pad>"}, []string{in.BOS, in.EOS, in.UNK, in.PAD})
	require.Equal(t, `{"b": 1, "a": 2}`, string(in.Extra["custom"]))
	require.NotNil(t, in.Now)

	require.ErrorContains(t, json.Unmarshal([]byte(`{"add_generation_prompt": "yes"}`), &in), "chat input: add_generation_prompt:")
	require.ErrorContains(t, json.Unmarshal([]byte(`[1]`), &in), "want a JSON object of render variables")
}

func TestDefaultTemplate(t *testing.T) {
	out, err := Default().Render(Input{Messages: json.RawMessage(`[{"role": "system", "content": "Be brief."},
		{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Bye"}]`),
		AddGenerationPrompt: true})
	require.NoError(t, err)
	require.Equal(t, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"+
		"<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n", out)
	require.Same(t, Default(), Default())
	require.Equal(t, DefaultTemplate, Default().Source())
}

// One compiled template rendered from several goroutines at once (run under -race) gives every
// goroutine its own, correct rendering.
func TestConcurrentRender(t *testing.T) {
	tmpl, err := Compile(`{%- set ns = namespace(n=0) -%}{%- for m in messages -%}{%- set ns.n = ns.n + 1 -%}` +
		`{{ m.role }}:{{ m.content }};{%- endfor -%}{{ ns.n }}|{{ tools|tojson }}|{{ strftime_now("%d") }}`)
	require.NoError(t, err)
	const workers, rounds = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			day := time.Date(2024, 7, w+1, 0, 0, 0, 0, time.UTC)
			in := Input{
				Messages: json.RawMessage(fmt.Sprintf(`[{"role": "user", "content": "w%d"}, {"role": "assistant", "content": "ok"}]`, w)),
				Tools:    json.RawMessage(fmt.Sprintf(`[{"z": %d, "a": [1.0]}]`, w)),
				Now:      func() time.Time { return day },
			}
			want := fmt.Sprintf(`user:w%d;assistant:ok;2|[{"z": %d, "a": [1.0]}]|%02d`, w, w, w+1)
			for range rounds {
				out, err := tmpl.Render(in)
				if err == nil && out != want {
					err = fmt.Errorf("worker %d: got %q, want %q", w, out, want)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
