package attnviz

import (
	"encoding/json"
	"html"
	"math"
	"os"
	"strings"
)

// htmlData is what the page's script reads.
type htmlData struct {
	Model   string          `json:"model"`
	Tokens  []string        `json:"tokens"`
	Prompt  int             `json:"prompt"`
	Layers  []int           `json:"layers"`
	Heads   []int           `json:"heads"`
	Attn    [][][][]float64 `json:"attn"` // [layer][head][query][key ≤ query], rounded to 4 decimals
	Rollout [][]float64     `json:"rollout"`
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// writeHTML writes index.html: one file with the data, styles and script inline, no network needed.
func (r *Report) writeHTML(path string) error {
	d := htmlData{Model: r.Model, Tokens: r.Tokens, Prompt: r.Prompt, Layers: r.Layers, Heads: r.Heads}
	for l := range r.capture.Probs {
		var hs [][][]float64
		for h := range r.capture.Probs[l] {
			var rows [][]float64
			for _, row := range r.capture.Probs[l][h] {
				rr := make([]float64, len(row))
				for k, v := range row {
					rr[k] = round4(float64(v))
				}
				rows = append(rows, rr)
			}
			hs = append(hs, rows)
		}
		d.Attn = append(d.Attn, hs)
	}
	for _, row := range r.Rollout() {
		rr := make([]float64, len(row))
		for k, v := range row {
			rr[k] = round4(v)
		}
		d.Rollout = append(d.Rollout, rr)
	}
	raw, err := json.Marshal(d) // escapes <, > and & so the data cannot close the script element
	if err != nil {
		return err
	}
	page := strings.NewReplacer("{{TITLE}}", html.EscapeString(r.Model), "{{DATA}}", string(raw)).Replace(pageTemplate)
	return os.WriteFile(path, []byte(page), 0o644)
}

const pageTemplate = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>llamago attention — {{TITLE}}</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 20px 28px; color: #222; background: #fff; }
  h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
  .sub { color: #666; margin-bottom: 12px; }
  .controls { display: flex; gap: 14px; align-items: center; flex-wrap: wrap; margin-bottom: 8px; }
  .head-toggle { display: inline-block; width: 22px; height: 22px; line-height: 22px; text-align: center; color: #fff;
    font-size: 11px; border-radius: 3px; cursor: pointer; margin-right: 3px; user-select: none; }
  .head-toggle.off { opacity: 0.18; }
  svg text { font: 13px ui-monospace, monospace; cursor: default; white-space: pre; }
  svg text.dim { fill: #bbb; }
  svg text.prompt-end { text-decoration: underline; }
  #grid { display: grid; gap: 4px; align-items: center; }
  #grid canvas { cursor: zoom-in; border: 1px solid #ddd; }
  #grid .lab { font-size: 11px; color: #555; text-align: center; }
  #modal { display: none; position: fixed; inset: 0; background: rgba(0,0,0,.45); align-items: center; justify-content: center; }
  #modal .box { background: #fff; padding: 14px 18px; border-radius: 6px; max-width: 95vw; max-height: 95vh; overflow: auto; }
  #errors { color: #b00; white-space: pre-wrap; }
  .legend { font-size: 12px; color: #666; }
</style>
</head>
<body>
<h1>Attention — <span id="model"></span></h1>
<div class="sub" id="summary"></div>
<div id="errors"></div>

<h2>Head view</h2>
<div class="controls">
  <label>Layer <select id="layer"></select></label>
  <span>Heads: <span id="toggles"></span></span>
  <span class="legend">click a head to toggle it, double-click to show it alone; hover a token to isolate its lines</span>
</div>
<svg id="headview" xmlns="http://www.w3.org/2000/svg"></svg>

<h2>Model view</h2>
<div class="legend">every captured layer (rows) × head (columns); rows are query positions, columns are key positions; click to enlarge</div>
<div id="grid"></div>

<h2>Attention rollout</h2>
<div class="legend">head-averaged attention plus the residual identity, row-normalized, multiplied across the captured layers (Abnar &amp; Zuidema, 2020)</div>
<canvas id="rollout"></canvas>

<div id="modal"><div class="box"><div id="modal-title"></div><canvas id="big"></canvas><div><button id="close">close</button></div></div></div>

<script id="data" type="application/json">{{DATA}}</script>
<script>
"use strict";
const errors = [];
window.addEventListener("error", e => { errors.push(String(e.message)); showErrors(); });
function showErrors() {
  document.getElementById("errors").textContent = errors.join("\n");
  document.body.dataset.errors = String(errors.length);
}
const D = JSON.parse(document.getElementById("data").textContent);
const COLORS = ["#1f77b4","#ff7f0e","#2ca02c","#d62728","#9467bd","#8c564b","#e377c2","#7f7f7f","#bcbd22","#17becf"];
const color = i => COLORS[i % COLORS.length];
const n = D.tokens.length;
const show = s => JSON.stringify(s).slice(1, -1);
const rendered = new Set();
function mark(what) { rendered.add(what); document.body.dataset.rendered = [...rendered].sort().join(","); }

document.getElementById("model").textContent = D.model;
document.getElementById("summary").textContent =
  n + " tokens (" + D.prompt + " from the prompt), layers " + D.layers.join(", ") + ", heads " + D.heads.join(", ");

// ---- head view ----
const layerSel = document.getElementById("layer");
D.layers.forEach((l, i) => { const o = document.createElement("option"); o.value = i; o.textContent = l; layerSel.appendChild(o); });
const active = D.heads.map(() => true);
const toggles = document.getElementById("toggles");
D.heads.forEach((h, i) => {
  const t = document.createElement("span");
  t.className = "head-toggle"; t.style.background = color(i); t.textContent = h; t.title = "head " + h;
  t.onclick = () => { active[i] = !active[i]; drawHead(); };
  t.ondblclick = () => { active.fill(false); active[i] = true; drawHead(); };
  toggles.appendChild(t);
});
layerSel.onchange = () => drawHead();
let focus = null; // {side: "q"|"k", index}

function drawHead() {
  const li = +layerSel.value;
  [...toggles.children].forEach((t, i) => t.classList.toggle("off", !active[i]));
  const svg = document.getElementById("headview");
  const rowH = 20, colW = 200, gap = 260;
  const H = n * rowH + 20, W = 2 * colW + gap;
  svg.setAttribute("width", W); svg.setAttribute("height", H);
  svg.innerHTML = "";
  const NS = "http://www.w3.org/2000/svg";
  const lines = document.createElementNS(NS, "g");
  svg.appendChild(lines);
  D.heads.forEach((h, hi) => {
    if (!active[hi]) return;
    const rows = D.attn[li][hi];
    for (let q = 0; q < n; q++) {
      for (let k = 0; k <= q; k++) {
        const w = rows[q][k];
        if (w < 0.01) continue;
        if (focus && ((focus.side === "q" && focus.index !== q) || (focus.side === "k" && focus.index !== k))) continue;
        const ln = document.createElementNS(NS, "line");
        ln.setAttribute("x1", colW + 6); ln.setAttribute("y1", 14 + q * rowH - 4);
        ln.setAttribute("x2", colW + gap - 6); ln.setAttribute("y2", 14 + k * rowH - 4);
        ln.setAttribute("stroke", color(hi)); ln.setAttribute("stroke-width", 2);
        ln.setAttribute("stroke-opacity", Math.min(1, w * (focus ? 1 : 0.9)));
        lines.appendChild(ln);
      }
    }
  });
  for (let side = 0; side < 2; side++) {
    for (let i = 0; i < n; i++) {
      const t = document.createElementNS(NS, "text");
      t.textContent = show(D.tokens[i]);
      t.setAttribute("y", 14 + i * rowH);
      if (side === 0) { t.setAttribute("x", colW); t.setAttribute("text-anchor", "end"); }
      else { t.setAttribute("x", colW + gap); }
      if (focus && !((side === 0 && focus.side === "q" && focus.index === i) || (side === 1 && focus.side === "k" && focus.index === i))) t.setAttribute("class", "dim");
      if (i === D.prompt - 1) t.classList.add("prompt-end");
      t.onmouseenter = () => { focus = {side: side === 0 ? "q" : "k", index: i}; drawHead(); };
      t.onmouseleave = () => { focus = null; drawHead(); };
      svg.appendChild(t);
    }
  }
  mark("head");
}

// ---- heatmaps ----
function viridis(v) {
  const P = [[68,1,84],[59,82,139],[33,145,140],[94,201,98],[253,231,37]];
  v = Math.max(0, Math.min(1, v)) * 4;
  const i = Math.min(3, Math.floor(v)), f = v - i;
  return "rgb(" + P[i].map((a, c) => Math.round(a + (P[i + 1][c] - a) * f)).join(",") + ")";
}
function heatmap(canvas, rows, size, labels) {
  const pad = labels ? 110 : 0;
  const cell = size / n;
  canvas.width = size + pad; canvas.height = size + pad;
  const g = canvas.getContext("2d");
  g.fillStyle = "#fff"; g.fillRect(0, 0, canvas.width, canvas.height);
  let mx = 0;
  for (let q = 0; q < n; q++) for (let k = 0; k <= q; k++) mx = Math.max(mx, rows[q][k]);
  for (let q = 0; q < n; q++) {
    for (let k = 0; k < n; k++) {
      g.fillStyle = k <= q ? viridis(rows[q][k] / (mx || 1)) : "#eee";
      g.fillRect(pad + k * cell, pad + q * cell, Math.ceil(cell), Math.ceil(cell));
    }
  }
  if (labels) {
    g.fillStyle = "#222"; g.font = "12px monospace"; g.textBaseline = "middle";
    for (let i = 0; i < n; i++) {
      g.textAlign = "right"; g.fillText(show(D.tokens[i]).slice(0, 12), pad - 4, pad + (i + 0.5) * cell);
      g.save(); g.translate(pad + (i + 0.5) * cell, pad - 4); g.rotate(-Math.PI / 2);
      g.textAlign = "left"; g.fillText(show(D.tokens[i]).slice(0, 12), 0, 0); g.restore();
    }
  }
}

function drawGrid() {
  const grid = document.getElementById("grid");
  grid.style.gridTemplateColumns = "40px repeat(" + D.heads.length + ", 84px)";
  grid.innerHTML = "";
  const cellLab = t => { const d = document.createElement("div"); d.className = "lab"; d.textContent = t; grid.appendChild(d); };
  cellLab("");
  D.heads.forEach(h => cellLab("head " + h));
  D.layers.forEach((l, li) => {
    cellLab("L" + l);
    D.heads.forEach((h, hi) => {
      const c = document.createElement("canvas");
      heatmap(c, D.attn[li][hi], 80, false);
      c.title = "layer " + l + ", head " + h;
      c.onclick = () => openBig("layer " + l + ", head " + h, D.attn[li][hi]);
      grid.appendChild(c);
    });
  });
  mark("model");
}

function openBig(title, rows) {
  document.getElementById("modal-title").textContent = title;
  heatmap(document.getElementById("big"), rows, Math.min(560, Math.max(240, n * 24)), true);
  document.getElementById("modal").style.display = "flex";
}
document.getElementById("close").onclick = () => { document.getElementById("modal").style.display = "none"; };
document.getElementById("modal").onclick = e => { if (e.target.id === "modal") e.target.style.display = "none"; };

drawHead();
drawGrid();
heatmap(document.getElementById("rollout"), D.rollout, Math.min(480, Math.max(200, n * 22)), true);
mark("rollout");
showErrors();
</script>
</body>
</html>
`
