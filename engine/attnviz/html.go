package attnviz

import (
	_ "embed"
	"encoding/json"
	"html"
	"math"

	"github.com/llamago/llamago/internal/atomicfile"
	"strings"
)

// Script is the one renderer of the attention views (AttnViz.render in assets/view.js): index.html inlines it
// and the page of llamago serve loads it, so both draw the same views from the same data (ViewData).
//
//go:embed assets/view.js
var Script string

// Styles are the views' styles (assets/view.css), shared like Script.
//
//go:embed assets/view.css
var Styles string

// ViewData is what the views' script reads: the JSON given to AttnViz.render.
type ViewData struct {
	Model   string          `json:"model"`
	Tokens  []string        `json:"tokens"`
	Prompt  int             `json:"prompt"`
	Layers  []int           `json:"layers"`
	Heads   []int           `json:"heads"`
	Attn    [][][][]float64 `json:"attn"`    // [layer][head][query][key ≤ query], rounded to 3 decimals
	Rollout [][]float64     `json:"rollout"` // nil when the layers are not consecutive
	Note    string          `json:"rollout_note,omitempty"`
	// HeadsPerKV is how many query heads share one key/value head (grouped-query attention), 0 if unknown.
	HeadsPerKV int        `json:"heads_per_kv"`
	Influence  *Influence `json:"influence,omitempty"`
	// InfluenceHint says, when Influence is nil, how to have it measured.
	InfluenceHint string `json:"influence_hint,omitempty"`
}

// round3 keeps what the page shows (three decimals) and no more: a long prompt's page stays small.
func round3(v float64) float64 { return math.Round(v*1e3) / 1e3 }

// View returns the report as the views' data: probabilities and rollout rounded to three decimals.
func (r *Report) View() *ViewData {
	d := &ViewData{Model: r.Model, Tokens: r.Tokens, Prompt: r.Prompt, Layers: r.Layers, Heads: r.Heads, Note: r.RolloutNote,
		Influence: r.Influence}
	if h, kv := intSetting(r.Settings, "head_count"), intSetting(r.Settings, "head_count_kv"); h > 0 && kv > 0 && h%kv == 0 {
		d.HeadsPerKV = h / kv
	}
	for l := range r.capture.Probs {
		var hs [][][]float64
		for h := range r.capture.Probs[l] {
			var rows [][]float64
			for _, row := range r.capture.Probs[l][h] {
				rr := make([]float64, len(row))
				for k, v := range row {
					rr[k] = round3(float64(v))
				}
				rows = append(rows, rr)
			}
			hs = append(hs, rows)
		}
		d.Attn = append(d.Attn, hs)
	}
	if r.HasRollout() {
		for _, row := range r.Rollout() {
			rr := make([]float64, len(row))
			for k, v := range row {
				rr[k] = round3(v)
			}
			d.Rollout = append(d.Rollout, rr)
		}
	}
	return d
}

// influenceHint says why influence is missing, and how to have it: the prompt has one token, or the
// capture came from llamago run, or llamago attention was told --influence=false.
func (r *Report) influenceHint() string {
	switch {
	case r.Influence != nil:
		return ""
	case r.Prompt < 2:
		return "a prompt of one token has no other token to leave out"
	case r.Settings["source"] == "llamago run":
		return "llamago run --capture-attn does not measure it; llamago attention does, by default"
	}
	return "it was turned off: llamago attention measures it by default, without --influence=false"
}

// writeHTML writes index.html: one file with the data, styles and script inline, no network needed.
func (r *Report) writeHTML(path string) error {
	d := r.View()
	d.InfluenceHint = r.influenceHint()
	raw, err := json.Marshal(d) // escapes <, > and & so the data cannot close the script element
	if err != nil {
		return err
	}
	page := strings.NewReplacer("{{TITLE}}", html.EscapeString(r.Model), "{{STYLES}}", Styles, "{{SCRIPT}}", Script, "{{DATA}}", string(raw)).Replace(pageTemplate)
	return atomicfile.WriteFile(path, "attnviz", []byte(page))
}

// intSetting reads an integer setting (0 when absent).
func intSetting(m map[string]any, key string) int {
	switch v := m[key].(type) {
	case int:
		return v
	case float64:
		return int(v)
	}
	return 0
}

const pageTemplate = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>llamago attention — {{TITLE}}</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 20px 28px; color: #222; background: #fff; max-width: 1200px; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  #errors { color: #b00; white-space: pre-wrap; }
{{STYLES}}
</style>
</head>
<body>
<h1>Attention — <span id="model"></span></h1>
<div id="errors"></div>
<div id="view"></div>
<script id="data" type="application/json">{{DATA}}</script>
<script>
{{SCRIPT}}
</script>
<script>
"use strict";
(function () {
  const errors = [];
  function showErrors() {
    document.getElementById("errors").textContent = errors.join("\n");
    document.body.dataset.errors = String(errors.length);
  }
  window.addEventListener("error", e => { errors.push(String(e.message)); showErrors(); });
  const D = JSON.parse(document.getElementById("data").textContent);
  document.getElementById("model").textContent = D.model;
  const view = document.getElementById("view");
  try {
    AttnViz.render(view, D);
  } catch (e) {
    errors.push(String(e));
  }
  document.body.dataset.rendered = view.dataset.rendered || "";
  showErrors();
})();
</script>
</body>
</html>
`
