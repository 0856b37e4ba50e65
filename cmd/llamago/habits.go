package main

import "strings"

// llama.cpp's users type single-dash multi-letter flags (-ngl 99, -cnv) that pflag would read as a
// cluster of one-letter flags (-n gl): "invalid argument "gl" for "-n, --n-predict"". fixArgs rewrites
// the ones llamago has to its own spelling and refuses the others with an error that names what to use.

// llamaCppAliases maps llama.cpp flag spellings to llamago's; "" drops a flag that asks for what llamago
// always does.
var llamaCppAliases = map[string]string{
	"-ngl":              "--gpu-layers",
	"--n-gpu-layers":    "--gpu-layers",
	"-mg":               "--device",
	"--main-gpu":        "--device",
	"-ts":               "--tensor-split",
	"-sm":               "--split",
	"--split-mode":      "--split",
	"--ctx-size":        "--ctx",
	"--batch-size":      "--batch",
	"--predict":         "--n-predict",
	"-np":               "--parallel", // llama-server's
	"-r":                "--stop",     // llama-cli's reverse prompt: where generation stops
	"--reverse-prompt":  "--stop",
	"-a":                "--alias",
	"-no-cnv":           "",
	"--no-conversation": "",
	"-cb":               "", // continuous batching: how llamago's server always runs
	"--cont-batching":   "",
	"--jinja":           "", // chat templates are always rendered as Jinja
	"--metrics":         "", // /metrics is always served
}

// llamaCppSwitches are llama.cpp flags that take an optional on/off/auto value and choose what llamago
// does without being asked: dropped, with their value. -fa: llamago's attention is one fused kernel on every
// backend (scores, softmax and the values' sum per query, no attention matrix in memory), which is what
// llama.cpp's switch chooses.
var llamaCppSwitches = map[string]bool{"-fa": true, "--flash-attn": true}

var switchValues = map[string]bool{"on": true, "off": true, "auto": true, "1": true, "0": true, "true": true, "false": true}

// llamaCppUnsupported are llama.cpp flags llamago has no counterpart for, with what to do instead.
var llamaCppUnsupported = map[string]string{
	"-cnv":           "llamago's conversation mode is a command of its own: llamago chat -m MODEL",
	"--conversation": "llamago's conversation mode is a command of its own: llamago chat -m MODEL",
	"-i":             "llamago's interactive mode is a command of its own: llamago chat -m MODEL",
	"--interactive":  "llamago's interactive mode is a command of its own: llamago chat -m MODEL",
	"-if":            "llamago's interactive mode is a command of its own: llamago chat -m MODEL",
	"-sys":           "use llamago chat --system TEXT (run applies no chat template: write the whole prompt with -p or -f)",
	"-hf":            "llamago downloads nothing: download a GGUF file (see the README's 'Where to get models') and give it with -m",
	"-hfr":           "llamago downloads nothing: download a GGUF file (see the README's 'Where to get models') and give it with -m",
	"-tb":            "llamago uses one thread count for prompt and generation: use -t/--threads",
	"-ub":            "llamago has one batch size: use -b/--batch",
	"-co":            "llamago's output has no colours",
	"-mli":           "llamago's interactive mode is a command of its own: llamago chat -m MODEL",
}

// kvTypeFlags are llama.cpp's KV cache type flags (keys, values): llamago keeps both in one type,
// --kv-type, so they become it when they agree (with each other and with a --kv-type given too). The value
// is the flag's role in fixArgs's check: 0 keys, 1 values (2 is --kv-type).
var kvTypeFlags = map[string]int{"-ctk": 0, "--cache-type-k": 0, "-ctv": 1, "--cache-type-v": 1}

// command is what fixArgs needs to know of the command a line calls.
type command struct {
	name       string
	own        func(name string) bool // a flag spelling the command has itself (template's -i): left alone
	has        func(long string) bool // llamago's flag (--gpu-layers) is one of the command's
	takesValue func(name string) bool // a flag spelling of the command's that takes the next argument as its value
}

// anyCommand is a command line fixArgs cannot tie to a command (the root's): every rewrite applies, and
// only the prompt flags' values are known to be values.
var anyCommand = command{own: func(string) bool { return false }, has: func(string) bool { return true },
	takesValue: func(name string) bool {
		return name == "-p" || name == "--prompt" || name == "-f" || name == "--file"
	}}

// fixArgs applies llamaCppAliases, llamaCppSwitches, kvTypeFlags and llamaCppUnsupported to a command
// line. The values of the command's flags (a prompt, a stop string that looks like a flag), everything
// after "--" and the flags the command owns are left alone. A llama.cpp flag whose llamago counterpart
// the command lacks is refused by the name the user typed. The KV cache type's spellings may repeat (the
// last one counts, as pflag takes it) but keys, values and --kv-type must end up agreeing.
func fixArgs(args []string, cmd command) ([]string, error) {
	out := make([]string, 0, len(args))
	var kv [3]struct{ flag, value string } // the last -ctk, -ctv and --kv-type met
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...), nil
		}
		name, value, hasValue := strings.Cut(a, "=")
		role, llamaCpp := kvTypeFlags[name]
		if (llamaCpp && !cmd.own(name)) || (name == "--kv-type" && cmd.has("kv-type")) {
			if !cmd.has("kv-type") {
				return nil, usagef("%s (llamago's --kv-type) is not a flag of %s: only commands that load a model for generation take it", name, cmd.name)
			}
			if !hasValue && i+1 < len(args) {
				value, hasValue = args[i+1], true
				i++
			}
			if !hasValue { // pflag says that --kv-type needs an argument
				out = append(out, "--kv-type")
				continue
			}
			if !llamaCpp {
				role = 2
			}
			kv[role].flag, kv[role].value = name, value
			out = append(out, "--kv-type", value)
			continue
		}
		if llamaCppSwitches[name] && !cmd.own(name) {
			if !hasValue && i+1 < len(args) && switchList(args[i+1]) {
				i++
			}
			continue
		}
		if to, ok := llamaCppAliases[name]; ok && !cmd.own(name) {
			long := strings.TrimPrefix(to, "--")
			switch {
			case to == "":
				continue // what llamago does anyway
			case !cmd.has(long):
				return nil, usagef("%s (llamago's %s) is not a flag of %s", name, to, cmd.name)
			case hasValue:
				out = append(out, to+"="+value)
			default:
				out = append(out, to)
				if cmd.takesValue(to) && i+1 < len(args) { // its value, whatever it looks like
					out = append(out, args[i+1])
					i++
				}
			}
			continue
		}
		if why, ok := llamaCppUnsupported[name]; ok && !cmd.own(name) {
			return nil, usagef("%s is a llama.cpp flag: %s", name, why)
		}
		out = append(out, a)
		if !hasValue && cmd.takesValue(a) && i+1 < len(args) {
			out = append(out, args[i+1])
			i++
		}
	}
	for i := 0; i < len(kv); i++ {
		for j := i + 1; j < len(kv); j++ {
			if kv[i].flag != "" && kv[j].flag != "" && !strings.EqualFold(kv[i].value, kv[j].value) {
				return nil, usagef("%s %s and %s %s: llamago keeps keys and values in one type, --kv-type (f32 or f16)", kv[i].flag, kv[i].value, kv[j].flag, kv[j].value)
			}
		}
	}
	return out, nil
}

// switchList reports whether v is a value of a llama.cpp switch (on, off, auto…), or llama-bench's comma
// list of them (-fa 0,1).
func switchList(v string) bool {
	for _, s := range strings.Split(strings.ToLower(v), ",") {
		if !switchValues[s] {
			return false
		}
	}
	return true
}
