package main

import "strings"

// llama.cpp's users type single-dash multi-letter flags (-ngl 99, -cnv) that pflag would read as a
// cluster of one-letter flags (-n gl): "invalid argument "gl" for "-n, --n-predict"". fixArgs rewrites
// the ones llamago has to its own spelling and refuses the others with an error that names what to use.

// llamaCppAliases maps llama.cpp flag spellings to llamago's.
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
	"-no-cnv":           "",
	"--no-conversation": "",
}

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
	"-fa":            "llamago has no flash-attention switch: its attention kernels are chosen by the backend",
	"-tb":            "llamago uses one thread count for prompt and generation: use -t/--threads",
	"-ub":            "llamago has one batch size: use -b/--batch",
	"-co":            "llamago's output has no colours",
	"-mli":           "llamago's interactive mode is a command of its own: llamago chat -m MODEL",
}

// kvTypeFlags are llama.cpp's KV cache type flags (keys, values): llamago keeps both in one type,
// --kv-type, so they become it when they agree.
var kvTypeFlags = map[string]bool{"-ctk": true, "--cache-type-k": true, "-ctv": true, "--cache-type-v": true}

// fixArgs applies llamaCppAliases, kvTypeFlags and llamaCppUnsupported to a command line. Values of -p/-f (the text
// a user wants verbatim), everything after "--" and the flags own reports as the command's own are left
// alone.
func fixArgs(args []string, own func(name string) bool) ([]string, error) {
	out := make([]string, 0, len(args))
	var kvFlag, kvValue string // the first KV cache type flag met, and its value
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...), nil
		}
		name, value, hasValue := strings.Cut(a, "=")
		if kvTypeFlags[name] && !own(name) {
			if !hasValue && i+1 < len(args) {
				value, hasValue = args[i+1], true
				i++
			}
			if !hasValue { // pflag says that --kv-type needs an argument
				out = append(out, "--kv-type")
				continue
			}
			if kvFlag != "" && !strings.EqualFold(value, kvValue) {
				return nil, usagef("%s %s and %s %s: llamago keeps keys and values in one type, --kv-type (f32 or f16)", kvFlag, kvValue, name, value)
			}
			kvFlag, kvValue = name, value
			out = append(out, "--kv-type", value)
			continue
		}
		if to, ok := llamaCppAliases[name]; ok && !own(name) {
			if to == "" {
				continue // a llama.cpp default llamago already has
			}
			if hasValue {
				out = append(out, to+"="+value)
			} else {
				out = append(out, to)
			}
			continue
		}
		if why, ok := llamaCppUnsupported[name]; ok && !own(name) {
			return nil, usagef("%s is a llama.cpp flag: %s", name, why)
		}
		out = append(out, a)
		if (a == "-p" || a == "--prompt" || a == "-f" || a == "--file") && i+1 < len(args) {
			out = append(out, args[i+1])
			i++
		}
	}
	return out, nil
}
