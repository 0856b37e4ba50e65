package attnviz

import (
	"encoding/json"
	"html"
	"math"

	"github.com/llamago/llamago/internal/atomicfile"
	"strings"
)

// htmlData is what the page's script reads.
type htmlData struct {
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
}

// round3 keeps what the page shows (three decimals) and no more: a long prompt's page stays small.
func round3(v float64) float64 { return math.Round(v*1e3) / 1e3 }

// writeHTML writes index.html: one file with the data, styles and script inline, no network needed.
func (r *Report) writeHTML(path string) error {
	d := htmlData{Model: r.Model, Tokens: r.Tokens, Prompt: r.Prompt, Layers: r.Layers, Heads: r.Heads, Note: r.RolloutNote,
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
	raw, err := json.Marshal(d) // escapes <, > and & so the data cannot close the script element
	if err != nil {
		return err
	}
	page := strings.NewReplacer("{{TITLE}}", html.EscapeString(r.Model), "{{DATA}}", string(raw)).Replace(pageTemplate)
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
<title>llamago attention — {{TITLE}}</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 20px 28px; color: #222; background: #fff; max-width: 1200px; }
  h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 6px; }
  .sub { color: #666; margin-bottom: 10px; }
  .intro, .explain { color: #333; max-width: 900px; margin: 4px 0 10px; }
  .explain { font-size: 13px; color: #555; }
  .controls { display: flex; gap: 14px; align-items: center; flex-wrap: wrap; margin-bottom: 8px; }
  .head-toggle { display: inline-block; width: 22px; height: 22px; line-height: 22px; text-align: center; color: #fff;
    font-size: 11px; border-radius: 3px; cursor: pointer; margin-right: 3px; user-select: none; }
  .head-toggle.off { opacity: 0.18; }
  svg text { font: 13px ui-monospace, monospace; cursor: default; white-space: pre; }
  svg text.dim { fill: #bbb; }
  svg text.gen { fill: #c84600; font-style: italic; }
  svg text.prompt-end { text-decoration: underline; }
  svg text.val { font-size: 11px; fill: #555; }
  svg text.axis { font: 12px system-ui, sans-serif; fill: #777; }
  #grid { display: grid; gap: 4px; align-items: center; }
  #grid canvas { cursor: zoom-in; border: 1px solid #ddd; }
  #grid .lab { font-size: 11px; color: #555; text-align: center; }
  #modal { display: none; position: fixed; inset: 0; background: rgba(0,0,0,.45); align-items: center; justify-content: center; }
  #modal .box { background: #fff; padding: 14px 18px; border-radius: 6px; max-width: 95vw; max-height: 95vh; overflow: auto; }
  #errors { color: #b00; white-space: pre-wrap; }
  .legend { font-size: 12px; color: #666; }
  .colorbar { display: inline-flex; align-items: center; gap: 6px; font-size: 12px; color: #555; margin: 4px 0; }
  .colorbar canvas { border: 1px solid #ccc; }
  #tip { position: fixed; pointer-events: none; background: #222; color: #fff; font: 12px ui-monospace, monospace;
    padding: 3px 6px; border-radius: 3px; display: none; white-space: pre; z-index: 10; }
  .side { display: flex; gap: 28px; align-items: flex-start; flex-wrap: wrap; }
  table.inf { border-collapse: collapse; font-size: 13px; }
  table.inf td, table.inf th { padding: 2px 8px; text-align: left; white-space: pre; }
  table.inf th { font-weight: 600; border-bottom: 1px solid #ccc; font-size: 12px; }
  table.inf td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .bar { display: inline-block; height: 10px; background: #3b528b; vertical-align: middle; }
  .bar.neg { background: #c84600; }
  .note { color: #8a5a00; background: #fff6e0; padding: 6px 10px; border-radius: 4px; max-width: 900px; }
</style>
</head>
<body>
<h1>Attention — <span id="model"></span></h1>
<div class="sub" id="summary"></div>
<div class="intro">
  A transformer reads the prompt one token at a time. In every <b>layer</b>, each <b>head</b> lets each token
  (the <i>query</i>, the attending token) gather information from the tokens before it (the <i>keys</i>, the
  tokens attended to), in proportions that sum to 1: that row of proportions is the head's <b>attention</b>.
  A LLaMA model can only look back (causal attention), so the token at position t sees t+1 tokens, itself
  included. Many rows put most of their weight on the first token <code>&lt;s&gt;</code>: an <b>attention
  sink</b>, where a head parks attention when nothing else is relevant. <span id="gqa"></span>
  <span class="gen-legend">Tokens in <i style="color:#c84600">orange italics</i> were generated by the model, not
  given in the prompt; the last prompt token is underlined.</span>
</div>
<div id="errors"></div>

<h2>Head view</h2>
<div class="explain">Left: the attending tokens (queries). Right: the tokens attended to (keys). A line from a left
token to a right token is as strong as the attention weight; each colour is a head. Hover a token on the left to see
only its lines and the weights (averaged over the heads shown) beside the keys; hover one on the right to see who
looks at it.</div>
<div class="controls">
  <label>Layer <select id="layer"></select></label>
  <span>Heads: <span id="toggles"></span></span>
  <span class="legend">click a head to toggle it, double-click to show it alone</span>
</div>
<svg id="headview" xmlns="http://www.w3.org/2000/svg"></svg>

<h2>Token view</h2>
<div class="explain">Pick a token: each row is a layer, each column a token it can see, and each cell how much the
token attends to that one in that layer (average of the heads). Read it top to bottom to see how what a token
looks at shifts from layer to layer.</div>
<div class="controls"><label>Token <select id="token"></select></label></div>
<table class="inf" id="tokenview"></table>

<h2>Model view</h2>
<div class="explain">Every captured layer (rows, first layer at the top) × head (columns), and the average of the
heads (last column). In each square, row t is what token t attends to and column k is token k: a bright diagonal
is a head that looks at the token itself, the line just below it a <i>previous-token head</i>, a bright first column
the attention sink. Each square is scaled to its own maximum. Hover for values, click to enlarge.</div>
<div class="colorbar"><span>0</span><canvas id="cbar" width="160" height="12"></canvas><span>the square's maximum</span></div>
<div id="grid"></div>

<h2>Rollout and influence</h2>
<div class="explain"><b>Attention rollout</b> (Abnar &amp; Zuidema, 2020) follows attention through all the layers:
each layer's head-averaged attention plus the residual connection (the token keeping its own representation),
multiplied layer after layer. Row t estimates how much of token t's final representation comes from each input
token. <b>Influence</b> measures instead what the prediction depends on: the prompt is run again with one token
left out, and the next-token prediction compared with the original one (the change in the predicted token's
probability, and the KL divergence between the two distributions). Where the two disagree, attention shows where
information is read from, not what the prediction needs.</div>
<div id="rollout-note" class="note" style="display:none"></div>
<div class="side">
  <div><canvas id="rollout"></canvas>
    <div class="colorbar"><span>0</span><canvas id="cbar2" width="160" height="12"></canvas><span>maximum</span></div></div>
  <div id="influence"></div>
</div>

<div id="modal"><div class="box"><div id="modal-title"></div><canvas id="big"></canvas>
  <div class="legend">rows: attending tokens (queries) · columns: tokens attended to (keys) · hover for values</div>
  <div><button id="close">close</button></div></div></div>
<div id="tip"></div>

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
// Ten distinct colours while they last; beyond ten heads, hues spread by the golden angle so no two repeat.
const color = i => D.heads.length <= COLORS.length ? COLORS[i] : "hsl(" + Math.round((i * 137.508) % 360) + ",70%," + (i % 2 ? 38 : 50) + "%)";
const n = D.tokens.length;
// Tokens as text a reader can see: quotes dropped, only-whitespace tokens shown as · and ¶.
function show(s) {
  if (s.trim() === "") return s.replace(/ /g, "·").replace(/\n/g, "¶").replace(/\t/g, "→") || "∅";
  return JSON.stringify(s).slice(1, -1);
}
const isGen = i => i >= D.prompt;
const rendered = new Set();
function mark(what) { rendered.add(what); document.body.dataset.rendered = [...rendered].sort().join(","); }
const tip = document.getElementById("tip");
function showTip(e, text) { tip.textContent = text; tip.style.display = "block"; tip.style.left = (e.clientX + 14) + "px"; tip.style.top = (e.clientY + 12) + "px"; }
function hideTip() { tip.style.display = "none"; }

document.getElementById("model").textContent = D.model;
document.getElementById("summary").textContent =
  n + " tokens (" + D.prompt + " from the prompt" + (n > D.prompt ? ", " + (n - D.prompt) + " generated" : "") + "), layers " +
  D.layers.join(", ") + ", heads " + D.heads.join(", ");
if (D.heads_per_kv > 1) {
  document.getElementById("gqa").textContent = "This model uses grouped-query attention: every " + D.heads_per_kv +
    " consecutive heads share one set of keys and values (heads 0–" + (D.heads_per_kv - 1) + " share the first), so their patterns often look alike.";
}
if (n === D.prompt) document.querySelector(".gen-legend").textContent = "The last prompt token, whose next token the model predicts, is underlined.";

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
  const rowH = 20, colW = 200, gap = 260, top = 34, valW = 48;
  const H = n * rowH + top + 10, W = 2 * colW + gap + valW;
  svg.setAttribute("width", W); svg.setAttribute("height", H);
  svg.innerHTML = "";
  const NS = "http://www.w3.org/2000/svg";
  const text = (x, y, s, cls, anchor) => {
    const t = document.createElementNS(NS, "text");
    t.textContent = s; t.setAttribute("x", x); t.setAttribute("y", y);
    if (anchor) t.setAttribute("text-anchor", anchor);
    if (cls) t.setAttribute("class", cls);
    svg.appendChild(t); return t;
  };
  text(colW, 14, "attending token (query)", "axis", "end");
  text(colW + gap, 14, "token attended to (key)", "axis");
  const lines = document.createElementNS(NS, "g");
  svg.appendChild(lines);
  const shown = D.heads.map((h, hi) => hi).filter(hi => active[hi]);
  const avg = (q, k) => shown.length ? shown.reduce((s, hi) => s + D.attn[li][hi][q][k], 0) / shown.length : 0;
  shown.forEach(hi => {
    const rows = D.attn[li][hi];
    for (let q = 0; q < n; q++) {
      for (let k = 0; k <= q; k++) {
        const w = rows[q][k];
        if (w < 0.01) continue;
        if (focus && ((focus.side === "q" && focus.index !== q) || (focus.side === "k" && focus.index !== k))) continue;
        const ln = document.createElementNS(NS, "line");
        ln.setAttribute("x1", colW + 6); ln.setAttribute("y1", top + q * rowH - 4);
        ln.setAttribute("x2", colW + gap - 6); ln.setAttribute("y2", top + k * rowH - 4);
        ln.setAttribute("stroke", color(hi)); ln.setAttribute("stroke-width", 2);
        ln.setAttribute("stroke-opacity", Math.min(1, w * (focus ? 1 : 0.9)));
        const title = document.createElementNS(NS, "title");
        title.textContent = "head " + D.heads[hi] + ": " + show(D.tokens[q]) + " → " + show(D.tokens[k]) + " " + w.toFixed(3);
        ln.appendChild(title);
        lines.appendChild(ln);
      }
    }
  });
  for (let side = 0; side < 2; side++) {
    for (let i = 0; i < n; i++) {
      const t = side === 0 ? text(colW, top + i * rowH, show(D.tokens[i]), "", "end") : text(colW + gap, top + i * rowH, show(D.tokens[i]));
      if (focus && !((side === 0 && focus.side === "q" && focus.index === i) || (side === 1 && focus.side === "k" && focus.index === i))) t.classList.add("dim");
      if (isGen(i)) t.classList.add("gen");
      if (i === D.prompt - 1) t.classList.add("prompt-end");
      t.onmouseenter = () => { focus = {side: side === 0 ? "q" : "k", index: i}; drawHead(); };
      t.onmouseleave = () => { focus = null; drawHead(); };
    }
  }
  if (focus) { // the weights, averaged over the heads shown, beside the other side's tokens
    for (let j = 0; j < n; j++) {
      const q = focus.side === "q" ? focus.index : j, k = focus.side === "q" ? j : focus.index;
      if (k > q) continue;
      const v = avg(q, k);
      if (focus.side === "q") text(colW + gap + colW - 10, top + j * rowH, v.toFixed(2), "val", "end");
      else text(8, top + j * rowH, v.toFixed(2), "val");
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
function colorbar(id) {
  const c = document.getElementById(id), g = c.getContext("2d");
  for (let x = 0; x < c.width; x++) { g.fillStyle = viridis(x / (c.width - 1)); g.fillRect(x, 0, 1, c.height); }
}
// heatmap draws rows (query × key ≤ query) scaled to their maximum; with labels, token names on both axes
// (generated ones in orange). Hovering shows "query → key: value".
function heatmap(canvas, rows, size, labels, what) {
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
  if (D.prompt < n) {
    g.fillStyle = "#c84600";
    g.fillRect(pad, pad + D.prompt * cell - 1, size, 2);
    g.fillRect(pad + D.prompt * cell - 1, pad, 2, size);
  }
  if (labels) {
    g.font = "12px monospace"; g.textBaseline = "middle";
    const step = Math.max(1, Math.ceil(12 / cell));
    for (let i = 0; i < n; i += step) {
      g.fillStyle = isGen(i) ? "#c84600" : "#222";
      g.textAlign = "right"; g.fillText(show(D.tokens[i]).slice(0, 12), pad - 4, pad + (i + 0.5) * cell);
      g.save(); g.translate(pad + (i + 0.5) * cell, pad - 4); g.rotate(-Math.PI / 2);
      g.textAlign = "left"; g.fillText(show(D.tokens[i]).slice(0, 12), 0, 0); g.restore();
    }
  }
  canvas.onmousemove = e => {
    const r = canvas.getBoundingClientRect();
    const x = (e.clientX - r.left) * canvas.width / r.width - pad, y = (e.clientY - r.top) * canvas.height / r.height - pad;
    const q = Math.floor(y / cell), k = Math.floor(x / cell);
    if (q < 0 || k < 0 || q >= n || k >= n) { hideTip(); return; }
    showTip(e, (what ? what + "\n" : "") + q + " " + show(D.tokens[q]) + " → " + k + " " + show(D.tokens[k]) + ": " +
      (k <= q ? rows[q][k].toFixed(3) : "future token, not visible"));
  };
  canvas.onmouseleave = hideTip;
}

function headAverage(li) {
  return D.attn[li][0].map((row, q) => row.map((_, k) => D.attn[li].reduce((s, h) => s + h[q][k], 0) / D.heads.length));
}

function drawGrid() {
  const grid = document.getElementById("grid");
  grid.style.gridTemplateColumns = "40px repeat(" + (D.heads.length + 1) + ", 84px)";
  grid.innerHTML = "";
  const cellLab = t => { const d = document.createElement("div"); d.className = "lab"; d.textContent = t; grid.appendChild(d); };
  cellLab("");
  D.heads.forEach(h => cellLab("head " + h));
  cellLab("average");
  D.layers.forEach((l, li) => {
    cellLab("L" + l);
    const add = (title, rows) => {
      const c = document.createElement("canvas");
      heatmap(c, rows, 80, false, title);
      c.onclick = () => openBig(title, rows);
      grid.appendChild(c);
    };
    D.heads.forEach((h, hi) => add("layer " + l + ", head " + h, D.attn[li][hi]));
    add("layer " + l + ", average of the heads", headAverage(li));
  });
  mark("model");
}

function openBig(title, rows) {
  document.getElementById("modal-title").textContent = title;
  heatmap(document.getElementById("big"), rows, Math.min(560, Math.max(240, n * 24)), true, title);
  document.getElementById("modal").style.display = "flex";
}
document.getElementById("close").onclick = () => { document.getElementById("modal").style.display = "none"; };
document.getElementById("modal").onclick = e => { if (e.target.id === "modal") e.target.style.display = "none"; };

// ---- influence, beside rollout ----
function drawInfluence() {
  const box = document.getElementById("influence");
  const inf = D.influence;
  const last = D.prompt - 1;
  if (!inf) { box.innerHTML = "<p class='legend'>Influence was not measured (llamago attention --influence=false).</p>"; return; }
  const cap = document.createElement("div");
  cap.className = "explain";
  cap.textContent = "After the prompt the model predicts " + JSON.stringify(inf.predicted_text) + " with probability " +
    inf.prob.toFixed(3) + ". Each row: that prompt token left out. Leaving out the last token changes which position predicts, so its influence is always large.";
  box.appendChild(cap);
  const t = document.createElement("table");
  t.className = "inf";
  const head = t.insertRow();
  ["#", "token", D.rollout ? "rollout of the last token" : "", "p(" + show(inf.predicted_text) + ") without it", "KL (nats)", "top token without it"].forEach(s => {
    const th = document.createElement("th"); th.textContent = s; head.appendChild(th);
  });
  const maxKL = Math.max(...inf.tokens.map(x => x.kl), 1e-9);
  const maxRoll = D.rollout ? Math.max(...D.rollout[last].slice(0, last + 1)) : 1;
  const bar = (v, mx, neg) => "<span class='bar" + (neg ? " neg" : "") + "' style='width:" + Math.round(60 * Math.abs(v) / (mx || 1)) + "px'></span> ";
  const esc = s => s.replace(/[&<>]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;"})[c]);
  inf.tokens.forEach(x => {
    const r = t.insertRow();
    r.insertCell().textContent = x.position;
    r.insertCell().textContent = show(x.token);
    const c1 = r.insertCell(); c1.className = "num";
    if (D.rollout) c1.innerHTML = bar(D.rollout[last][x.position], maxRoll) + D.rollout[last][x.position].toFixed(3);
    const c2 = r.insertCell(); c2.className = "num";
    c2.innerHTML = bar(x.delta_prob, 1, x.delta_prob < 0) + x.prob_without.toFixed(3) + " (" + (x.delta_prob >= 0 ? "+" : "") + x.delta_prob.toFixed(3) + ")";
    const c3 = r.insertCell(); c3.className = "num";
    c3.innerHTML = bar(x.kl, maxKL) + x.kl.toFixed(3);
    r.insertCell().innerHTML = esc(show(x.top_without_text));
  });
  box.appendChild(t);
  mark("influence");
}

// ---- token view ----
const tokSel = document.getElementById("token");
D.tokens.forEach((t, i) => { const o = document.createElement("option"); o.value = i; o.textContent = i + " " + show(t) + (isGen(i) ? " (generated)" : ""); tokSel.appendChild(o); });
tokSel.value = D.prompt - 1;
tokSel.onchange = () => drawTokenView();
const averages = D.layers.map((_, li) => headAverage(li));
function drawTokenView() {
  const q = +tokSel.value, t = document.getElementById("tokenview");
  t.innerHTML = "";
  const head = t.insertRow();
  const th = s => { const c = document.createElement("th"); c.textContent = s; head.appendChild(c); return c; };
  th("layer");
  for (let k = 0; k <= q; k++) { const c = th(show(D.tokens[k])); if (isGen(k)) c.style.color = "#c84600"; }
  D.layers.forEach((l, li) => {
    const r = t.insertRow();
    r.insertCell().textContent = "L" + l;
    const row = averages[li][q];
    const mx = Math.max(...row.slice(0, q + 1)) || 1;
    for (let k = 0; k <= q; k++) {
      const c = r.insertCell(); c.className = "num";
      c.textContent = row[k].toFixed(2);
      c.style.background = viridis(row[k] / mx);
      c.style.color = row[k] / mx > 0.6 ? "#000" : "#fff";
    }
  });
  mark("token");
}

colorbar("cbar"); colorbar("cbar2");
drawTokenView();
drawHead();
drawGrid();
if (D.rollout) {
  heatmap(document.getElementById("rollout"), D.rollout, Math.min(480, Math.max(200, n * 22)), true, "rollout");
} else {
  const note = document.getElementById("rollout-note");
  note.style.display = "block"; note.textContent = D.rollout_note;
  document.getElementById("rollout").parentElement.style.display = "none";
}
mark("rollout");
drawInfluence();
showErrors();
</script>
</body>
</html>
`
