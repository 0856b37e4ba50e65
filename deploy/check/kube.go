package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// The kinds deploy/k8s may hold. Anything else fails the check until it is added here.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, autoscalingv2.AddToScheme, monitoringv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}()

// strict decodes YAML or JSON into the registered Go types, refusing unknown and duplicate fields.
var strict = serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()

// object is one decoded manifest.
type object struct {
	kind, name string
	obj        runtime.Object
}

// render builds a kustomization as kubectl apply -k does and returns its objects as YAML documents,
// with the files it read (for the coverage check).
func render(dir string) ([][]byte, []string, error) {
	files, err := kustomizationFiles(dir, map[string]bool{})
	if err != nil {
		return nil, files, err
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, files, err
	}
	var docs [][]byte
	for _, r := range m.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			return nil, files, err
		}
		docs = append(docs, y)
	}
	return docs, files, nil
}

// kustomizationFiles lists the files a kustomization reads: itself, its resources (following
// directories), components and patch files.
func kustomizationFiles(dir string, seen map[string]bool) ([]string, error) {
	if seen[dir] {
		return nil, nil
	}
	seen[dir] = true
	kpath := filepath.Join(dir, "kustomization.yaml")
	src, err := os.ReadFile(kpath)
	if err != nil {
		return nil, err
	}
	var k types.Kustomization
	if err := yaml.UnmarshalStrict(src, &k); err != nil {
		return []string{kpath}, fmt.Errorf("%s: %w", kpath, err)
	}
	files := []string{kpath}
	var errs []error
	for _, r := range append(append([]string{}, k.Resources...), k.Components...) {
		p := filepath.Join(dir, r)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			sub, err := kustomizationFiles(p, seen)
			files = append(files, sub...)
			errs = append(errs, err)
		} else {
			files = append(files, p)
		}
	}
	for _, pt := range k.Patches {
		if pt.Path != "" {
			files = append(files, filepath.Join(dir, pt.Path))
		}
	}
	return files, errors.Join(errs...)
}

// readDocs splits a YAML file into its documents.
func readDocs(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := utilyaml.NewYAMLReader(bufio.NewReader(f))
	var docs [][]byte
	for {
		d, err := r.Read()
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return docs, err
		}
		if len(bytes.TrimSpace(stripComments(d))) > 0 {
			docs = append(docs, d)
		}
	}
}

func stripComments(d []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(d, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			out = append(append(out, line...), '\n')
		}
	}
	return out
}

// decodeAll decodes each document strictly into its Kubernetes type.
func decodeAll(where string, docs [][]byte, p *problems) []object {
	var out []object
	for i, d := range docs {
		obj, gvk, err := strict.Decode(d, nil, nil)
		if err != nil {
			p.add(where, "document %d: %v", i+1, err)
			continue
		}
		name := ""
		if m, ok := obj.(interface{ GetName() string }); ok {
			name = m.GetName()
		}
		if name == "" {
			p.add(where, "a %s without metadata.name", gvk.Kind)
		}
		out = append(out, object{kind: gvk.Kind, name: name, obj: obj})
	}
	return out
}

// checkOverlay checks one rendered overlay (cpu or cuda: the backend it must run) and returns the Pods
// metrics its HorizontalPodAutoscalers scale on.
func checkOverlay(where, backend string, objs []object, p *problems) []string {
	byKind := map[string][]object{}
	for _, o := range objs {
		byKind[o.kind] = append(byKind[o.kind], o)
	}
	for _, kind := range []string{"Deployment", "Service", "HorizontalPodAutoscaler", "PersistentVolumeClaim"} {
		if len(byKind[kind]) != 1 {
			p.add(where, "want exactly one %s, have %d", kind, len(byKind[kind]))
		}
	}
	claims := map[string]bool{}
	for _, o := range byKind["PersistentVolumeClaim"] {
		claims[o.name] = true
		checkClaim(where+": PersistentVolumeClaim "+o.name, o.obj.(*corev1.PersistentVolumeClaim), p)
	}
	deployments := map[string]*appsv1.Deployment{}
	for _, o := range byKind["Deployment"] {
		d := o.obj.(*appsv1.Deployment)
		deployments[o.name] = d
		checkDeployment(where+": Deployment "+o.name, backend, d, claims, p)
	}
	for _, o := range byKind["Service"] {
		checkService(where+": Service "+o.name, o.obj.(*corev1.Service), deployments, p)
	}
	var metrics []string
	for _, o := range byKind["HorizontalPodAutoscaler"] {
		metrics = append(metrics, checkHPA(where+": HorizontalPodAutoscaler "+o.name, o.obj.(*autoscalingv2.HorizontalPodAutoscaler), deployments, p)...)
	}
	return metrics
}

func checkClaim(where string, c *corev1.PersistentVolumeClaim, p *problems) {
	if len(c.Spec.AccessModes) == 0 {
		p.add(where, "no accessModes")
	}
	if q, ok := c.Spec.Resources.Requests[corev1.ResourceStorage]; !ok || q.Sign() <= 0 {
		p.add(where, "no storage request")
	}
}

// labelsMatch says whether every key=value of sel is in labels (and sel is not empty).
func labelsMatch(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func checkDeployment(where, backend string, d *appsv1.Deployment, claims map[string]bool, p *problems) {
	spec := &d.Spec.Template.Spec
	if d.Spec.Selector == nil || len(d.Spec.Selector.MatchExpressions) > 0 || !labelsMatch(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
		p.add(where, "spec.selector.matchLabels must be set and match the pod template's labels")
	}
	if g := spec.TerminationGracePeriodSeconds; g == nil || *g < 60 {
		p.add(where, "terminationGracePeriodSeconds must give streams time to drain (at least 60)")
	}
	if sc := spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || (sc.RunAsUser != nil && *sc.RunAsUser == 0) {
		p.add(where, "the pod must run as non-root (securityContext.runAsNonRoot: true, runAsUser not 0)")
	}
	if ann := d.Spec.Template.Annotations; ann["prometheus.io/scrape"] == "true" && ann["prometheus.io/port"] != "8080" {
		p.add(where, "prometheus.io/port is %q, the server listens on 8080", ann["prometheus.io/port"])
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
		if c := v.PersistentVolumeClaim; c != nil && !claims[c.ClaimName] {
			p.add(where, "volume %s uses claim %s, which the overlay does not define", v.Name, c.ClaimName)
		}
	}
	if len(spec.Containers) != 1 {
		p.add(where, "want one container, have %d", len(spec.Containers))
	}
	for _, c := range spec.Containers {
		cw := where + ": container " + c.Name
		if c.Image == "" {
			p.add(cw, "no image")
		}
		ports := map[string]int32{}
		for _, pt := range c.Ports {
			ports[pt.Name] = pt.ContainerPort
		}
		if ports["http"] != 8080 {
			p.add(cw, "want a port named http on 8080 (the Service and probes use it)")
		}
		for name, pr := range map[string]*corev1.Probe{"startupProbe": c.StartupProbe, "readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe} {
			if pr == nil || pr.HTTPGet == nil || pr.HTTPGet.Path != "/health" {
				p.add(cw, "%s must be an HTTP GET of /health", name)
				continue
			}
			if pt := pr.HTTPGet.Port; pt.IntValue() != 8080 && ports[pt.String()] != 8080 {
				p.add(cw, "%s probes port %s, not the server's 8080", name, pt.String())
			}
		}
		if pr := c.StartupProbe; pr != nil && pr.PeriodSeconds*pr.FailureThreshold < 300 {
			p.add(cw, "the startupProbe allows %ds to load the model: give it at least 300", pr.PeriodSeconds*pr.FailureThreshold)
		}
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			p.add(cw, "securityContext must set readOnlyRootFilesystem: true and allowPrivilegeEscalation: false")
		}
		modelsMounted := false
		for _, m := range c.VolumeMounts {
			v, ok := volumes[m.Name]
			if !ok {
				p.add(cw, "mounts volume %s, which the pod does not declare", m.Name)
				continue
			}
			if m.MountPath == "/models" {
				modelsMounted = m.ReadOnly && v.PersistentVolumeClaim != nil
			}
		}
		if !modelsMounted {
			p.add(cw, "the models must come from a PersistentVolumeClaim mounted read-only at /models")
		}
		flags := checkArgs(cw, backend, c.Args, p)
		checkDrain(cw, flags, spec.TerminationGracePeriodSeconds, c.Lifecycle, p)
		checkResources(cw, backend, c.Resources, p)
	}
}

// checkDrain checks that serve's --drain (default 60s), after the preStop sleep, fits in the pod's
// terminationGracePeriodSeconds and uses most of it: a drain longer is killed mid-stream by Kubernetes,
// one much shorter cuts streams the grace period was given for.
func checkDrain(where string, flags map[string]string, grace *int64, life *corev1.Lifecycle, p *problems) {
	drain := 60 * time.Second
	if v, ok := flags["--drain"]; ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			p.add(where, "--drain %q is not a duration (e.g. 580s)", v)
			return
		}
		drain = d
	}
	var sleep time.Duration
	if life != nil && life.PreStop != nil && life.PreStop.Sleep != nil {
		sleep = time.Duration(life.PreStop.Sleep.Seconds) * time.Second
	}
	g := 30 * time.Second // Kubernetes' default
	if grace != nil {
		g = time.Duration(*grace) * time.Second
	}
	// After --drain the server gives streams 2 s to write their error events, then exits: a margin of 5 s.
	const margin = 5 * time.Second
	switch {
	case sleep+drain+margin > g:
		p.add(where, "the preStop sleep (%s), --drain %s and %s to end outlast terminationGracePeriodSeconds (%s): Kubernetes kills the pod mid-drain", sleep, drain, margin, g)
	case 2*(sleep+drain) < g:
		p.add(where, "terminationGracePeriodSeconds (%s) gives streams time that --drain %s does not use: the server cuts them first; set --drain near %s", g, drain, g-sleep-10*time.Second)
	}
}

// checkArgs checks the server's command line: serve, a model under /models, the overlay's backend; it
// returns the flags and their values.
func checkArgs(where, backend string, args []string, p *problems) map[string]string {
	if len(args) == 0 || args[0] != "serve" {
		p.add(where, "args must start with serve (the image's entrypoint is llamago)")
	}
	flags := map[string]string{}
	for i := 1; i < len(args); i++ {
		if name, value, ok := strings.Cut(args[i], "="); ok && strings.HasPrefix(name, "-") { // --drain=580s
			if prev, dup := flags[name]; dup {
				p.add(where, "flag %s given twice (%s and %s)", name, prev, value)
			}
			flags[name] = value
			continue
		}
		if strings.HasPrefix(args[i], "-") && i+1 < len(args) {
			if prev, dup := flags[args[i]]; dup {
				p.add(where, "flag %s given twice (%s and %s)", args[i], prev, args[i+1])
			}
			flags[args[i]] = args[i+1]
			i++
		}
	}
	if m := flags["-m"]; !strings.HasPrefix(m, "/models/") {
		p.add(where, "-m must name a file under /models, got %q", m)
	}
	if flags["--host"] != "0.0.0.0" || flags["--port"] != "8080" {
		p.add(where, "the server must listen on --host 0.0.0.0 --port 8080")
	}
	if flags["--backend"] != backend {
		p.add(where, "--backend is %q in overlay %s", flags["--backend"], backend)
	}
	return flags
}

func checkResources(where, backend string, r corev1.ResourceRequirements, p *problems) {
	for name, req := range r.Requests {
		if lim, ok := r.Limits[name]; ok && req.Cmp(lim) > 0 {
			p.add(where, "requests %s %s above its limit %s", name, req.String(), lim.String())
		}
	}
	if _, ok := r.Limits[corev1.ResourceMemory]; !ok {
		p.add(where, "no memory limit")
	}
	gpu, hasGPU := r.Limits["nvidia.com/gpu"]
	switch {
	case backend == "cuda" && (!hasGPU || gpu.Value() != 1):
		p.add(where, "a CUDA replica takes exactly one GPU: limits nvidia.com/gpu: 1")
	case backend != "cuda" && hasGPU:
		p.add(where, "asks for a GPU but runs --backend %s", backend)
	}
}

func checkService(where string, s *corev1.Service, deployments map[string]*appsv1.Deployment, p *problems) {
	if s.Spec.Type != "" && s.Spec.Type != corev1.ServiceTypeClusterIP {
		p.add(where, "type %s, want ClusterIP", s.Spec.Type)
	}
	var target *appsv1.Deployment
	for _, d := range deployments {
		if labelsMatch(s.Spec.Selector, d.Spec.Template.Labels) {
			target = d
		}
	}
	if target == nil {
		p.add(where, "its selector matches no Deployment's pods")
		return
	}
	ports := map[string]int32{}
	for _, c := range target.Spec.Template.Spec.Containers {
		for _, pt := range c.Ports {
			ports[pt.Name] = pt.ContainerPort
			ports[fmt.Sprint(pt.ContainerPort)] = pt.ContainerPort
		}
	}
	has80 := false
	for _, pt := range s.Spec.Ports {
		if ports[pt.TargetPort.String()] == 0 {
			p.add(where, "port %d targets %s, which no container of %s declares", pt.Port, pt.TargetPort.String(), target.Name)
		}
		has80 = has80 || (pt.Port == 80 && ports[pt.TargetPort.String()] == 8080)
	}
	if !has80 {
		p.add(where, "want port 80 to the server's 8080")
	}
}

func checkHPA(where string, h *autoscalingv2.HorizontalPodAutoscaler, deployments map[string]*appsv1.Deployment, p *problems) []string {
	ref := h.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || deployments[ref.Name] == nil {
		p.add(where, "scaleTargetRef %s %s/%s is not a Deployment of this overlay", ref.APIVersion, ref.Kind, ref.Name)
	}
	if h.Spec.MinReplicas != nil && (*h.Spec.MinReplicas < 1 || *h.Spec.MinReplicas > h.Spec.MaxReplicas) {
		p.add(where, "minReplicas %d is not within 1..maxReplicas (%d)", *h.Spec.MinReplicas, h.Spec.MaxReplicas)
	}
	var metrics []string
	for _, m := range h.Spec.Metrics {
		if m.Type != autoscalingv2.PodsMetricSourceType {
			continue
		}
		if m.Pods == nil || m.Pods.Metric.Name == "" || m.Pods.Target.Type != autoscalingv2.AverageValueMetricType || m.Pods.Target.AverageValue == nil {
			p.add(where, "a Pods metric needs pods.metric.name and an AverageValue target")
			continue
		}
		if q := m.Pods.Target.AverageValue; q.Sign() <= 0 {
			p.add(where, "averageValue %s must be positive", q.String())
		}
		metrics = append(metrics, m.Pods.Metric.Name)
	}
	if !contains(metrics, queueMetric) {
		p.add(where, "does not scale on the Pods metric %s", queueMetric)
	}
	return metrics
}

// queueMetric is the gauge llamago serve exports for the requests waiting for a sequence slot.
const queueMetric = "llamago_queue_length"

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkMonitor checks a ServiceMonitor against the overlays' Services.
func checkMonitor(where string, o object, services []object, p *problems) {
	sm, ok := o.obj.(*monitoringv1.ServiceMonitor)
	if !ok {
		p.add(where, "want a ServiceMonitor, have a %s", o.kind)
		return
	}
	var portNames []string
	for _, s := range services {
		svc := s.obj.(*corev1.Service)
		if labelsMatch(sm.Spec.Selector.MatchLabels, svc.Labels) {
			for _, pt := range svc.Spec.Ports {
				portNames = append(portNames, pt.Name)
			}
		}
	}
	if len(portNames) == 0 {
		p.add(where, "its selector matches no llamago Service")
	}
	if len(sm.Spec.Endpoints) == 0 {
		p.add(where, "no endpoints")
	}
	for _, e := range sm.Spec.Endpoints {
		if !contains(portNames, e.Port) {
			p.add(where, "an endpoint scrapes a port the Service does not name")
		}
		if e.Path != "/metrics" {
			p.add(where, "an endpoint scrapes %q, not /metrics", e.Path)
		}
	}
}
