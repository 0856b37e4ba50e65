package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyTree copies what the check reads (go.mod, .dockerignore, deploy/ less this program) into a
// temporary repository root.
func copyTree(t *testing.T) string {
	t.Helper()
	src, dst := filepath.Join("..", ".."), t.TempDir()
	copyFile := func(rel string) {
		b, err := os.ReadFile(filepath.Join(src, rel))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, rel), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile("go.mod")
	copyFile(".dockerignore")
	err := filepath.WalkDir(filepath.Join(src, "deploy"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() && rel == filepath.Join("deploy", "check") {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			copyFile(rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestCommittedFilesPass(t *testing.T) {
	var p problems
	checked := checkAll(filepath.Join("..", ".."), &p)
	for _, s := range p {
		t.Error(s)
	}
	if len(checked) < 7 {
		t.Errorf("checked only %q", checked)
	}
}

// Each case breaks one file the way a careless edit would; the check must fail and say why.
func TestBrokenFilesFail(t *testing.T) {
	cases := []struct {
		name, file, old, new, want string
	}{
		{"misspelt field", "deploy/k8s/base/deployment.yaml", "readinessProbe:", "readinesProbe:", `unknown field "spec.template.spec.containers[0].readinesProbe"`},
		{"wrong type", "deploy/k8s/base/deployment.yaml", "revisionHistoryLimit: 3", "revisionHistoryLimit: three", "revisionHistoryLimit"},
		{"drain past the grace period", "deploy/k8s/base/deployment.yaml", "- 580s", "- 900s", "outlast terminationGracePeriodSeconds"},
		{"drain with no room to end", "deploy/k8s/base/deployment.yaml", "- 580s", "- 590s", "outlast terminationGracePeriodSeconds"},
		{"drain given with =", "deploy/k8s/base/deployment.yaml", "            - --drain\n            - 580s\n", "            - --drain=900s\n", "--drain 15m0s"},
		{"drain left at its default", "deploy/k8s/base/deployment.yaml", "            - --drain\n            - 580s\n", "", "does not use"},
		{"probe on another port", "deploy/k8s/base/deployment.yaml", "path: /health\n              port: http\n            periodSeconds: 5", "path: /health\n              port: 9090\n            periodSeconds: 5", "readinessProbe probes port 9090"},
		{"models writable", "deploy/k8s/base/deployment.yaml", "mountPath: /models\n              readOnly: true", "mountPath: /models", "mounted read-only at /models"},
		{"root", "deploy/k8s/base/deployment.yaml", "runAsNonRoot: true", "runAsNonRoot: false", "non-root"},
		{"service to nowhere", "deploy/k8s/base/service.yaml", "targetPort: http", "targetPort: web", "targets web"},
		{"unknown kind", "deploy/k8s/base/service.yaml", "kind: Service", "kind: Servic", `no kind "Servic"`},
		{"hpa on another metric", "deploy/k8s/base/hpa.yaml", "name: llamago_queue_length", "name: llamago_queue_len", "no rule serves llamago_queue_len"},
		{"hpa on another deployment", "deploy/k8s/base/hpa.yaml", "name: llamago\n  minReplicas", "name: llama\n  minReplicas", "not a Deployment of this overlay"},
		{"no gpu", "deploy/k8s/overlays/cuda/gpu.yaml", "nvidia.com/gpu: 1", "nvidia.com/gpu: 2", "exactly one GPU"},
		{"wrong backend", "deploy/k8s/overlays/cpu/kustomization.yaml", "value: cpu", "value: cuda", `--backend is "cuda" in overlay cpu`},
		{"missing patch", "deploy/k8s/overlays/cpu/kustomization.yaml", "path: resources.yaml", "path: resource.yaml", "resource.yaml"},
		{"adapter typo", "deploy/k8s/prometheus-adapter/values.yaml", "metricsQuery:", "metricQuery:", `unknown field "metricQuery"`},
		{"adapter renames", "deploy/k8s/prometheus-adapter/rules-configmap.yaml", "as: llamago_queue_length", "as: queue_length", `as "queue_length"`},
		{"adapter template", "deploy/k8s/prometheus-adapter/values.yaml", "<<.GroupBy>>", "<<.GroupBy>", "metricsQuery"},
		{"adapter configs differ", "deploy/k8s/prometheus-adapter/values.yaml", "[1m]", "[2m]", "differ"},
		{"monitor on another port", "deploy/k8s/monitoring/servicemonitor.yaml", "port: http", "port: metrics", "port the Service does not name"},
		{"go version", "deploy/Dockerfile", "ARG GO_VERSION=", "ARG GO_VERSION=1.1", "go.mod says go"},
		{"root image", "deploy/Dockerfile.cuda", "USER 65532:65532", "USER root", "non-root USER"},
		{"dockerfile syntax", "deploy/Dockerfile", "EXPOSE 8080", "EXPOSE 8080\nHEALTHCHECK --interval=forever CMD true", "invalid duration"},
		{"floating cuda tag", "deploy/Dockerfile.cuda", "nvidia/cuda:12.6.3-base-ubuntu24.04", "nvidia/cuda:latest", "pin the tag"},
		{"cgo", "deploy/Dockerfile", "CGO_ENABLED=0 ", "", "CGO_ENABLED=0"},
		{"models in context", ".dockerignore", "\nmodels/", "\n", "models is not ignored"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := copyTree(t)
			path := filepath.Join(root, c.file)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), c.old) {
				t.Fatalf("%s has no %q: update the test", c.file, c.old)
			}
			if err := os.WriteFile(path, []byte(strings.Replace(string(b), c.old, c.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			var p problems
			checkAll(root, &p)
			all := strings.Join(p, "\n")
			t.Log(all)
			if !strings.Contains(all, c.want) {
				t.Errorf("want a problem mentioning %q, got:\n%s", c.want, all)
			}
		})
	}
}

func TestUncheckedFileFails(t *testing.T) {
	root := copyTree(t)
	if err := os.WriteFile(filepath.Join(root, "deploy/k8s/base/pdb.yaml"), []byte("apiVersion: policy/v1\nkind: PodDisruptionBudget\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var p problems
	checkAll(root, &p)
	if all := strings.Join(p, "\n"); !strings.Contains(all, "deploy/k8s/base/pdb.yaml: not checked") {
		t.Errorf("an unreferenced manifest passed:\n%s", all)
	}
}
