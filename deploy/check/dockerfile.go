package main

import (
	"bytes"
	"regexp"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// pinnedCUDA is a CUDA base image with a full version tag (no "latest", no floating 12-base).
var pinnedCUDA = regexp.MustCompile(`^nvidia/cuda:\d+\.\d+\.\d+-(base|runtime)-ubuntu\d+\.\d+$`)

// checkDockerfile parses a Dockerfile with BuildKit's parser (syntax, instruction arguments and the
// linter's rules) and checks the build and runtime stages.
func checkDockerfile(where string, src []byte, goVersion string, cuda bool, p *problems) {
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		p.add(where, "%v", err)
		return
	}
	for _, w := range res.Warnings {
		p.add(where, "line %d: %s", firstLine(w.Location), w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, loc []parser.Range) {
		line := 0
		if len(loc) > 0 {
			line = loc[0].Start.Line
		}
		p.add(where, "line %d: %s: %s", line, rule, msg)
	}})
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	if err != nil {
		p.add(where, "%v", err)
		return
	}
	args := map[string]string{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				args[kv.Key] = *kv.Value
			}
		}
	}
	if goVersion != "" && args["GO_VERSION"] != goVersion {
		p.add(where, "ARG GO_VERSION=%s, but go.mod says go %s: build with the Go the module asks for", args["GO_VERSION"], goVersion)
	}
	if len(stages) < 2 {
		p.add(where, "want a build stage and a runtime stage, have %d stage(s)", len(stages))
		return
	}
	expand := func(s string) string {
		return regexp.MustCompile(`\$\{?(\w+)\}?`).ReplaceAllStringFunc(s, func(v string) string {
			return args[strings.Trim(v, "${}")]
		})
	}
	build, final := stages[0], stages[len(stages)-1]
	if b := expand(build.BaseName); !strings.HasPrefix(b, "golang:"+goVersion+"-") {
		p.add(where, "the build stage is FROM %s, want golang:%s-<debian release>", b, goVersion)
	}
	for _, s := range stages {
		b := expand(s.BaseName)
		if !strings.Contains(b, ":") || strings.HasSuffix(b, ":latest") {
			p.add(where, "FROM %s: pin the tag", b)
		}
	}
	buildRuns := strings.Join(runLines(build), "\n")
	finalBase := expand(final.BaseName)
	if cuda {
		if !strings.Contains(buildRuns, "make cuda") {
			p.add(where, "the build stage must build with make cuda")
		}
		if !pinnedCUDA.MatchString(finalBase) {
			p.add(where, "the runtime stage is FROM %s, want NVIDIA's nvidia/cuda:X.Y.Z-base-ubuntuNN.NN (or -runtime-)", finalBase)
		}
	} else {
		if !strings.Contains(buildRuns, "CGO_ENABLED=0") || !strings.Contains(buildRuns, "-trimpath") {
			p.add(where, "the build must be static and reproducible: CGO_ENABLED=0 go build -trimpath")
		}
	}

	var user string
	var exposed, entrypoint, cmd []string
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.ExposeCommand:
			exposed = append(exposed, c.Ports...)
		case *instructions.EntrypointCommand:
			entrypoint = c.CmdLine
			if c.PrependShell {
				p.add(where, "ENTRYPOINT in shell form: signals (SIGTERM's drain) would go to the shell; use the JSON form")
			}
		case *instructions.CmdCommand:
			cmd = c.CmdLine
		}
	}
	if u := strings.SplitN(user, ":", 2)[0]; u == "" || u == "root" || u == "0" {
		p.add(where, "the runtime stage must set a non-root USER")
	}
	if !contains(exposed, "8080") && !contains(exposed, "8080/tcp") {
		p.add(where, "the runtime stage must EXPOSE 8080")
	}
	if len(entrypoint) != 1 || !strings.HasSuffix(entrypoint[0], "/llamago") {
		p.add(where, "ENTRYPOINT must be the llamago binary, got %q", entrypoint)
	}
	c := strings.Join(cmd, " ")
	if len(cmd) == 0 || cmd[0] != "serve" || !strings.Contains(c, "-m /models/model.gguf") || !strings.Contains(c, "--host 0.0.0.0") {
		p.add(where, "CMD must default to serve -m /models/model.gguf --host 0.0.0.0, got %q", cmd)
	}
	if cuda && !strings.Contains(c, "--backend cuda") {
		p.add(where, "the CUDA image's CMD must select --backend cuda")
	}
}

func runLines(s instructions.Stage) []string {
	var out []string
	for _, c := range s.Commands {
		if r, ok := c.(*instructions.RunCommand); ok {
			out = append(out, strings.Join(r.CmdLine, " "))
		}
	}
	return out
}

func firstLine(loc *parser.Range) int {
	if loc == nil {
		return 0
	}
	return loc.Start.Line
}
