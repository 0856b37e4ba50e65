// Command check validates llamago's deployment files offline, given the repository root:
// make deploy-check runs `cd deploy/check && go run . ../..`. It is a module of its own so that the
// llamago module pulls in no Kubernetes code.
//
// What it checks:
//   - every kustomize overlay under deploy/k8s/overlays, rendered with the kustomize API (what
//     `kubectl apply -k` runs), each object decoded strictly into the official Kubernetes Go types
//     (k8s.io/api): an unknown or misspelt field, a duplicate field or a wrong type is an error;
//   - what a schema cannot see: selectors that match the pod labels, probe and Service ports that name a
//     container port, mounts of declared volumes, the models claim mounted read-only, a non-root
//     read-only container, requests within limits, the backend each overlay runs, one GPU per CUDA
//     replica, and an HPA on the Deployment scaling on llamago_queue_length;
//   - the standalone manifests (the ServiceMonitor, the adapter's ConfigMap), decoded the same way;
//   - prometheus-adapter's rule, in its config file (the ConfigMap) and in the Helm values, parsed
//     strictly: its name mapping must produce the HPA's metric and its metricsQuery template must execute;
//   - both Dockerfiles, parsed by BuildKit's parser: the Go version of the build stage is go.mod's, base
//     images are pinned, the runtime stage runs non-root, exposes 8080 and starts llamago serve;
//   - that every YAML file under deploy/k8s is checked by one of the above.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// problems collects what is wrong, each with the file or object it is about.
type problems []string

func (p *problems) add(where, format string, args ...any) {
	*p = append(*p, where+": "+fmt.Sprintf(format, args...))
}

func main() {
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: check [repository root]\nvalidates deploy/ (Dockerfiles, kustomize overlays, prometheus-adapter rule) offline")
	}
	flag.Parse()
	root := "."
	if flag.NArg() > 0 {
		root = flag.Arg(0)
	}
	var p problems
	checked := checkAll(root, &p)
	if len(p) > 0 {
		for _, s := range p {
			fmt.Fprintln(os.Stderr, "deploy-check:", s)
		}
		fmt.Fprintf(os.Stderr, "deploy-check: %d problem(s)\n", len(p))
		os.Exit(1)
	}
	for _, s := range checked {
		fmt.Println("ok ", s)
	}
}

// checkAll runs every check on the repository at root and returns what it checked.
func checkAll(root string, p *problems) []string {
	var done []string
	k8s := filepath.Join(root, "deploy", "k8s")
	covered := map[string]bool{} // YAML files some check read

	goVersion, err := goDirective(filepath.Join(root, "go.mod"))
	if err != nil {
		p.add("go.mod", "%v", err)
	}
	for _, df := range []struct {
		name string
		cuda bool
	}{{"Dockerfile", false}, {"Dockerfile.cuda", true}} {
		path := filepath.Join(root, "deploy", df.name)
		src, err := os.ReadFile(path)
		if err != nil {
			p.add("deploy/"+df.name, "%v", err)
			continue
		}
		checkDockerfile("deploy/"+df.name, src, goVersion, df.cuda, p)
		done = append(done, "deploy/"+df.name)
	}
	if src, err := os.ReadFile(filepath.Join(root, ".dockerignore")); err != nil {
		p.add(".dockerignore", "%v", err)
	} else {
		checkDockerignore(".dockerignore", string(src), p)
		done = append(done, ".dockerignore")
	}

	overlays, _ := filepath.Glob(filepath.Join(k8s, "overlays", "*"))
	if len(overlays) == 0 {
		p.add("deploy/k8s/overlays", "no overlays")
	}
	var metrics []string // the HPAs' Pods metrics, which the adapter must serve
	var services []object
	for _, dir := range overlays {
		name := filepath.Base(dir)
		where := "overlay " + name
		objs, files, err := render(dir)
		for _, f := range files {
			covered[f] = true
		}
		if err != nil {
			p.add(where, "%v", err)
			continue
		}
		decoded := decodeAll(where, objs, p)
		for _, m := range checkOverlay(where, name, decoded, p) {
			if !contains(metrics, m) {
				metrics = append(metrics, m)
			}
		}
		for _, o := range decoded {
			if o.kind == "Service" {
				services = append(services, o)
			}
		}
		done = append(done, fmt.Sprintf("deploy/k8s/overlays/%s (%d objects)", name, len(objs)))
	}

	// The ServiceMonitor and any other optional manifest beside it.
	monitors, _ := filepath.Glob(filepath.Join(k8s, "monitoring", "*.yaml"))
	for _, f := range monitors {
		rel := relTo(root, f)
		covered[f] = true
		docs, err := readDocs(f)
		if err != nil {
			p.add(rel, "%v", err)
			continue
		}
		for _, o := range decodeAll(rel, docs, p) {
			checkMonitor(rel, o, services, p)
		}
		done = append(done, rel)
	}

	// prometheus-adapter: the ConfigMap with its config file, and the Helm values.
	adapter := filepath.Join(k8s, "prometheus-adapter")
	cmPath, valuesPath := filepath.Join(adapter, "rules-configmap.yaml"), filepath.Join(adapter, "values.yaml")
	covered[cmPath], covered[valuesPath] = true, true
	var fromConfig, fromValues []adapterRule
	if docs, err := readDocs(cmPath); err != nil {
		p.add(relTo(root, cmPath), "%v", err)
	} else {
		fromConfig = checkAdapterConfigMap(relTo(root, cmPath), decodeAll(relTo(root, cmPath), docs, p), p)
	}
	if src, err := os.ReadFile(valuesPath); err != nil {
		p.add(relTo(root, valuesPath), "%v", err)
	} else {
		fromValues = parseAdapterValues(relTo(root, valuesPath), src, p)
	}
	checkAdapterRules(relTo(root, cmPath), fromConfig, metrics, p)
	checkAdapterRules(relTo(root, valuesPath), fromValues, metrics, p)
	if fromConfig != nil && fromValues != nil && !sameRules(fromConfig, fromValues) {
		p.add("deploy/k8s/prometheus-adapter", "the rules in rules-configmap.yaml and values.yaml differ: keep them the same")
	}
	done = append(done, "deploy/k8s/prometheus-adapter (rule for "+strings.Join(metrics, ", ")+")")

	// Nothing under deploy/k8s may escape the checks.
	_ = filepath.WalkDir(k8s, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) && !covered[path] {
			p.add(relTo(root, path), "not checked: name it in a kustomization.yaml (resources or patches), or teach deploy/check about it")
		}
		return nil
	})
	sort.Strings(done)
	return done
}

func relTo(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil {
		return filepath.ToSlash(r)
	}
	return path
}

// goDirective returns the version in go.mod's go line.
func goDirective(path string) (string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(src), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "go" {
			return f[1], nil
		}
	}
	return "", fmt.Errorf("no go directive")
}

func checkDockerignore(where, src string, p *problems) {
	have := map[string]bool{}
	for _, line := range strings.Split(src, "\n") {
		have[strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(line), "/"), "/")] = true
	}
	for _, want := range []string{".git", "models", "bin"} {
		if !have[want] {
			p.add(where, "%s is not ignored: it would be sent to every image build", want)
		}
	}
}
