package main

import (
	"reflect"
	"regexp"
	"strings"
	"text/template"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// adapterRule is one discovery rule of prometheus-adapter's config file, as its configuration reference
// describes it. Parsing is strict: a misspelt key is an error, as the adapter would silently ignore it.
type adapterRule struct {
	SeriesQuery   string `json:"seriesQuery"`
	SeriesFilters []struct {
		Is    string `json:"is,omitempty"`
		IsNot string `json:"isNot,omitempty"`
	} `json:"seriesFilters,omitempty"`
	Resources struct {
		Template  string `json:"template,omitempty"`
		Overrides map[string]struct {
			Group    string `json:"group,omitempty"`
			Resource string `json:"resource"`
		} `json:"overrides,omitempty"`
		Namespaced *bool `json:"namespaced,omitempty"`
	} `json:"resources"`
	Name struct {
		Matches string `json:"matches"`
		As      string `json:"as,omitempty"`
	} `json:"name"`
	MetricsQuery string `json:"metricsQuery"`
}

// adapterConfig is the adapter's config file (--config).
type adapterConfig struct {
	Rules         []adapterRule `json:"rules"`
	ResourceRules any           `json:"resourceRules,omitempty"`
	ExternalRules []adapterRule `json:"externalRules,omitempty"`
}

// checkAdapterConfigMap returns the rules of the config.yaml in a ConfigMap.
func checkAdapterConfigMap(where string, objs []object, p *problems) []adapterRule {
	if len(objs) != 1 {
		p.add(where, "want one ConfigMap, have %d objects", len(objs))
		return nil
	}
	cm, ok := objs[0].obj.(*corev1.ConfigMap)
	if !ok {
		p.add(where, "want a ConfigMap, have a %s", objs[0].kind)
		return nil
	}
	src, ok := cm.Data["config.yaml"]
	if !ok {
		p.add(where, "no data.config.yaml (the adapter's config file)")
		return nil
	}
	var c adapterConfig
	if err := yaml.UnmarshalStrict([]byte(src), &c); err != nil {
		p.add(where, "config.yaml: %v", err)
		return nil
	}
	return c.Rules
}

// parseAdapterValues returns rules.custom of the adapter Helm chart's values.
func parseAdapterValues(where string, src []byte, p *problems) []adapterRule {
	var v struct {
		Rules struct {
			Default  *bool         `json:"default,omitempty"`
			Custom   []adapterRule `json:"custom"`
			Existing *string       `json:"existing,omitempty"`
			External []adapterRule `json:"external,omitempty"`
			Resource any           `json:"resource,omitempty"`
		} `json:"rules"`
	}
	if err := yaml.UnmarshalStrict(src, &v); err != nil {
		p.add(where, "%v", err)
		return nil
	}
	return v.Rules.Custom
}

// checkAdapterRules checks that the rules serve every metric the HPAs scale on, per pod, with a query
// template that executes.
func checkAdapterRules(where string, rules []adapterRule, metrics []string, p *problems) {
	served := map[string]bool{}
	for i, r := range rules {
		for _, name := range servedNames(where, i, r, metrics, p) {
			served[name] = true
		}
	}
	for _, m := range metrics {
		if !served[m] {
			p.add(where, "no rule serves %s, which the HorizontalPodAutoscaler scales on", m)
		}
	}
}

// servedNames returns which of the wanted metric names rule i serves for pods.
func servedNames(where string, i int, r adapterRule, wanted []string, p *problems) []string {
	bad := func(format string, args ...any) { p.add(where, "rule %d: "+format, append([]any{i + 1}, args...)...) }
	if r.SeriesQuery == "" || r.MetricsQuery == "" || r.Name.Matches == "" {
		bad("seriesQuery, name.matches and metricsQuery are required")
		return nil
	}
	for _, label := range []string{"namespace", "pod"} {
		if o, ok := r.Resources.Overrides[label]; (!ok || o.Resource != label) && r.Resources.Template == "" {
			bad("resources must map the %s label to the %s resource (the HPA asks per pod)", label, label)
		}
	}
	// The adapter renders metricsQuery with these fields, between << and >>.
	t, err := template.New("metricsQuery").Delims("<<", ">>").Option("missingkey=error").Parse(r.MetricsQuery)
	if err != nil {
		bad("metricsQuery: %v", err)
	} else {
		var out strings.Builder
		data := struct {
			Series, LabelMatchers, GroupBy string
			GroupBySlice                   []string
			LabelValuesByName              map[string][]string
		}{"llamago_queue_length", `namespace="default",pod=~"llamago-a|llamago-b"`, "pod", []string{"pod"}, map[string][]string{"pod": {"llamago-a", "llamago-b"}}}
		if err := t.Execute(&out, data); err != nil {
			bad("metricsQuery: %v", err)
		} else if q := out.String(); strings.Count(q, "(") != strings.Count(q, ")") || strings.Count(q, "{") != strings.Count(q, "}") {
			bad("metricsQuery renders to %q, whose brackets do not balance", q)
		} else if !strings.Contains(r.MetricsQuery, "<<.LabelMatchers>>") || !strings.Contains(r.MetricsQuery, "<<.GroupBy>>") {
			bad("metricsQuery must filter by <<.LabelMatchers>> and group by <<.GroupBy>> to give one value per pod")
		}
	}
	re, err := regexp.Compile(r.Name.Matches)
	if err != nil {
		bad("name.matches: %v", err)
		return nil
	}
	as := r.Name.As
	if as == "" { // the adapter's default: the first capture group, else the whole name
		as = "$0"
		if re.NumSubexp() > 0 {
			as = "$1"
		}
	}
	var names []string
	for _, w := range wanted {
		// The series name is the metric itself: the rule must find it and keep its name.
		if !strings.Contains(r.SeriesQuery, w) {
			continue
		}
		m := re.FindStringSubmatchIndex(w)
		if m == nil {
			bad("name.matches %q does not match the series %s", r.Name.Matches, w)
			continue
		}
		if got := string(re.ExpandString(nil, as, w, m)); got != w {
			bad("serves the series %s as %q; the HorizontalPodAutoscaler asks for %s", w, got, w)
			continue
		}
		names = append(names, w)
	}
	return names
}

func sameRules(a, b []adapterRule) bool { return reflect.DeepEqual(a, b) }
