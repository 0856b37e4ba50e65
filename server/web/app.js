// llamago's page: chat with the model through /v1/chat/completions (streamed), and see its attention
// through /v1/attention, drawn by the same renderer as llamago attention's index.html (AttnViz).
// Model text reaches the page only escaped (markdown() below escapes first) or through textContent.
"use strict";
(function () {
  const $ = id => document.getElementById(id);
  const store = {
    get(k, d) { try { const v = localStorage.getItem("llamago." + k); return v == null ? d : JSON.parse(v); } catch (e) { return d; } },
    set(k, v) { try { localStorage.setItem("llamago." + k, JSON.stringify(v)); } catch (e) { /* full or disabled: keep going */ } },
  };
  const DEFAULTS = {temperature: 0.8, top_p: 0.95, max_tokens: 256};
  let apiKey = store.get("key", "");
  let settings = Object.assign({}, DEFAULTS, store.get("settings", {}));
  let convs = store.get("conversations", []); // [{id, title, messages: [{role, content, stats, stopped, error}]}]
  let current = store.get("current", null);
  let busy = null; // the AbortController of the answer being streamed

  // ---- the API, with the key when there is one ----
  class HTTPError extends Error { constructor(status, msg) { super(msg); this.status = status; } }
  let keyWaiters = null;
  function askKey(why) {
    if (!keyWaiters) {
      keyWaiters = [];
      $("key-why").textContent = why || "This server needs an API key.";
      $("key-input").value = "";
      $("key-dialog").showModal();
    }
    return new Promise(resolve => keyWaiters.push(resolve));
  }
  $("key-form").addEventListener("submit", () => {
    apiKey = $("key-input").value.trim();
    store.set("key", apiKey);
    const w = keyWaiters || [];
    keyWaiters = null;
    w.forEach(f => f());
  });
  $("key-dialog").addEventListener("cancel", e => e.preventDefault()); // nothing works without it
  async function api(path, opts) {
    const headers = {"Content-Type": "application/json"};
    if (apiKey) headers.Authorization = "Bearer " + apiKey;
    const r = await fetch(path, Object.assign({}, opts, {headers}));
    if (r.ok) return r;
    let msg = r.status + " " + r.statusText;
    try { const j = await r.json(); if (j.error && j.error.message) msg = j.error.message; } catch (e) { /* not JSON */ }
    if (r.status === 401) {
      await askKey(apiKey ? "The key was refused: " + msg : msg);
      return api(path, opts);
    }
    throw new HTTPError(r.status, msg);
  }

  // ---- Markdown, a small safe subset: everything is escaped first, then only fixed tags are added ----
  const esc = s => s.replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"})[c]);
  function inline(s) {
    return s.split(/(`[^`\n]+`)/).map((part, i) => {
      if (i % 2) return "<code>" + esc(part.slice(1, -1)) + "</code>";
      return esc(part)
        .replace(/\*\*(?=\S)([^*]*?\S)\*\*/g, "<strong>$1</strong>")
        .replace(/(^|[^*\w])\*(?=[^\s*])([^*]*?[^\s*])\*(?!\w)/g, "$1<em>$2</em>")
        .replace(/(^|[^_\w])_(?=[^\s_])([^_]*?[^\s_])_(?!\w)/g, "$1<em>$2</em>");
    }).join("");
  }
  const FENCE = /^\s*(```+|~~~+)\s*([\w+#.-]*)\s*$/, ITEM = /^\s*([-*+]|\d{1,9}[.)])\s+/, HEADING = /^(#{1,6})\s+(.*)$/;
  function markdown(src) {
    const lines = src.replace(/\r\n?/g, "\n").split("\n"), out = [];
    let i = 0;
    while (i < lines.length) {
      const line = lines[i], fence = line.match(FENCE);
      if (fence) { // a code block; unclosed (still streaming) it runs to the end
        const body = [];
        for (i++; i < lines.length && !lines[i].trim().startsWith(fence[1]); i++) body.push(lines[i]);
        i++;
        out.push("<pre><code" + (fence[2] ? " data-lang=\"" + esc(fence[2]) + "\"" : "") + ">" + esc(body.join("\n")) + "</code></pre>");
      } else if (line.trim() === "") {
        i++;
      } else if (HEADING.test(line)) {
        const h = line.match(HEADING), lv = Math.min(6, h[1].length + 2);
        out.push("<h" + lv + ">" + inline(h[2]) + "</h" + lv + ">");
        i++;
      } else if (ITEM.test(line)) {
        const tag = /^\s*\d/.test(line) ? "ol" : "ul", items = [];
        while (i < lines.length && ITEM.test(lines[i])) {
          let item = lines[i++].replace(ITEM, "");
          while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !ITEM.test(lines[i])) item += " " + lines[i++].trim();
          items.push("<li>" + inline(item) + "</li>");
        }
        out.push("<" + tag + ">" + items.join("") + "</" + tag + ">");
      } else {
        const para = [];
        while (i < lines.length && lines[i].trim() !== "" && !FENCE.test(lines[i]) && !ITEM.test(lines[i]) && !HEADING.test(lines[i])) para.push(lines[i++]);
        out.push("<p>" + para.map(inline).join("<br>") + "</p>");
      }
    }
    return out.join("");
  }

  // ---- conversations ----
  const save = () => { store.set("conversations", convs); store.set("current", current); };
  function conv() {
    let c = convs.find(c => c.id === current);
    if (!c) {
      c = {id: Date.now().toString(36) + Math.random().toString(36).slice(2, 6), title: "", messages: []};
      convs.unshift(c);
      current = c.id;
      save();
    }
    return c;
  }
  function drawConversations() {
    const ul = $("conversations");
    ul.replaceChildren();
    convs.forEach(c => {
      const li = document.createElement("li");
      const open = document.createElement("button");
      open.type = "button"; open.className = "open"; open.textContent = c.title || "New conversation";
      if (c.id === current) open.setAttribute("aria-current", "true");
      open.onclick = () => { if (busy) return; current = c.id; save(); drawAll(); document.body.classList.remove("menu-open"); $("input").focus(); };
      const del = document.createElement("button");
      del.type = "button"; del.className = "del"; del.textContent = "✕"; del.setAttribute("aria-label", "Delete " + (c.title || "conversation"));
      del.onclick = () => {
        if (busy && c.id === current) return;
        convs = convs.filter(x => x !== c);
        if (current === c.id) current = convs.length ? convs[0].id : null;
        save(); drawAll();
      };
      li.append(open, del);
      ul.appendChild(li);
    });
  }
  const fmt = (v, d) => v == null || !isFinite(v) ? "–" : v.toFixed(d);
  function statsText(m) {
    const s = m.stats;
    if (!s) return "";
    return s.tokens + " tokens · first token " + fmt(s.ttft_ms, 0) + " ms · " + fmt(s.tps, 1) + " tokens/s";
  }
  function drawMessage(m, el) {
    el = el || document.createElement("div");
    el.className = "msg " + m.role + (m === streaming ? " streaming" : "");
    el.dataset.role = m.role;
    el.replaceChildren();
    const who = document.createElement("div");
    who.className = "who";
    who.textContent = m.role === "user" ? "You" : "Model";
    if (m.content && m !== streaming) {
      const b = document.createElement("button");
      b.type = "button"; b.className = "attn"; b.textContent = "Attention";
      b.setAttribute("aria-label", "Show the attention of this message");
      b.onclick = () => showAttention(m.content);
      who.appendChild(b);
    }
    const body = document.createElement("div");
    body.className = "body";
    body.innerHTML = markdown(m.content); // escaped by markdown()
    el.append(who, body);
    if (m.role === "assistant" && (m.stats || m.stopped || m.error)) {
      const st = document.createElement("div");
      st.className = "stats";
      st.textContent = statsText(m);
      if (m.stopped) { const s = document.createElement("span"); s.className = "stopped"; s.textContent = " · stopped"; st.appendChild(s); }
      if (m.finish === "length") st.append(" · max tokens reached");
      if (m.error) { const e = document.createElement("div"); e.className = "error"; e.textContent = m.error; st.appendChild(e); }
      el.appendChild(st);
    }
    return el;
  }
  let streaming = null;
  function drawMessages() {
    const box = $("messages"), c = conv();
    box.replaceChildren();
    if (!c.messages.length) {
      const p = document.createElement("p");
      p.className = "empty";
      p.textContent = "Write a message below. Answers stream as the model writes them; Stop ends one. " +
        "Every message has an Attention button: it shows which tokens each head of the model attends to.";
      box.appendChild(p);
    }
    c.messages.forEach(m => box.appendChild(drawMessage(m)));
    box.scrollTop = box.scrollHeight;
  }
  function drawAll() { drawConversations(); drawMessages(); }

  // ---- chat ----
  function setBusy(b) {
    $("send").hidden = b; $("stop").hidden = !b;
    document.body.dataset.busy = String(b);
  }
  async function send(text) {
    const c = conv();
    if (!c.title) c.title = text.replace(/\s+/g, " ").slice(0, 48);
    c.messages.push({role: "user", content: text});
    const msg = {role: "assistant", content: ""};
    c.messages.push(msg);
    streaming = msg;
    save(); drawAll();
    const el = $("messages").lastElementChild, box = $("messages");
    const ctrl = new AbortController();
    busy = ctrl; setBusy(true);
    const t0 = performance.now();
    let first = null, count = 0, usage = null, pending = false;
    const redraw = () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        const stick = box.scrollTop + box.clientHeight >= box.scrollHeight - 30;
        el.querySelector(".body").innerHTML = markdown(msg.content); // escaped by markdown()
        if (stick) box.scrollTop = box.scrollHeight;
      });
    };
    try {
      const body = JSON.stringify({
        messages: c.messages.slice(0, -1).map(m => ({role: m.role, content: m.content})),
        stream: true, stream_options: {include_usage: true},
        temperature: settings.temperature, top_p: settings.top_p, max_tokens: settings.max_tokens,
      });
      const r = await api("/v1/chat/completions", {method: "POST", body, signal: ctrl.signal});
      const reader = r.body.getReader(), dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buf += dec.decode(value, {stream: true});
        let k;
        while ((k = buf.indexOf("\n\n")) >= 0) {
          const event = buf.slice(0, k);
          buf = buf.slice(k + 2);
          for (const line of event.split("\n")) {
            if (!line.startsWith("data:")) continue;
            const data = line.slice(5).trim();
            if (data === "[DONE]") continue;
            const j = JSON.parse(data);
            if (j.error) throw new Error(j.error.message || "the server ended the answer with an error");
            if (j.usage) usage = j.usage;
            const ch = j.choices && j.choices[0];
            if (!ch) continue;
            if (ch.delta && ch.delta.content) {
              if (first === null) first = performance.now();
              count++;
              msg.content += ch.delta.content;
              redraw();
            }
            if (ch.finish_reason) msg.finish = ch.finish_reason;
          }
        }
      }
    } catch (e) {
      if (e.name === "AbortError") msg.stopped = true;
      else msg.error = e.message || String(e);
    } finally {
      const t1 = performance.now(), tokens = usage ? usage.completion_tokens : count;
      msg.stats = {tokens, ttft_ms: first === null ? null : first - t0,
        tps: first !== null && tokens > 1 && t1 > first ? (tokens - 1) / ((t1 - first) / 1000) : null};
      busy = null; streaming = null;
      setBusy(false); save();
      drawMessage(msg, el);
      box.scrollTop = box.scrollHeight;
    }
  }
  $("composer").addEventListener("submit", e => {
    e.preventDefault();
    const text = $("input").value;
    if (busy || text.trim() === "") return;
    $("input").value = "";
    send(text);
  });
  $("input").addEventListener("keydown", e => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); $("composer").requestSubmit(); }
  });
  $("stop").onclick = () => { if (busy) busy.abort(); $("input").focus(); };
  $("new-chat").onclick = () => {
    if (busy) return;
    current = null; conv(); drawAll();
    document.body.classList.remove("menu-open");
    $("input").focus();
  };
  $("menu").onclick = () => {
    const open = document.body.classList.toggle("menu-open");
    $("menu").setAttribute("aria-expanded", String(open));
  };

  // ---- attention ----
  // A list such as "0,2-3" (empty: all).
  function parseList(s, what) {
    s = s.trim();
    if (s === "" || s === "all") return null;
    const out = [];
    for (const part of s.split(/[\s,]+/).filter(Boolean)) {
      const m = part.match(/^(\d+)(?:-(\d+))?$/);
      if (!m) throw new Error(what + ": " + JSON.stringify(part) + " is not a number or a range such as 2-5");
      const a = +m[1], b = m[2] === undefined ? a : +m[2];
      if (b < a || b - a > 4096) throw new Error(what + ": the range " + part + " is backwards or too long");
      for (let v = a; v <= b; v++) out.push(v);
    }
    return out;
  }
  let attnSeq = 0;
  async function drawAttention() {
    const status = $("attn-status"), view = $("attn-view"), seq = ++attnSeq;
    status.className = "";
    let layers, heads;
    try {
      layers = parseList($("attn-layers").value, "Layers");
      heads = parseList($("attn-heads").value, "Heads");
    } catch (e) { status.className = "error"; status.textContent = e.message; return; }
    const text = $("attn-text").value;
    if (text.trim() === "") { status.className = "error"; status.textContent = "Give a text."; return; }
    status.textContent = "Capturing attention…";
    view.dataset.state = "loading";
    try {
      const r = await api("/v1/attention", {method: "POST", body: JSON.stringify({text, layers, heads})});
      const D = await r.json();
      if (seq !== attnSeq) return;
      status.textContent = "";
      AttnViz.render(view, D);
      view.dataset.text = text;
      view.dataset.state = "done";
    } catch (e) {
      if (seq !== attnSeq) return;
      status.className = "error";
      status.textContent = (e.status === 413 ? "Too large: " : "") + (e.message || String(e));
      view.replaceChildren();
      view.dataset.state = "error";
    }
  }
  $("attn-form").addEventListener("submit", e => { e.preventDefault(); drawAttention(); });
  $("attn-text").addEventListener("keydown", e => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); $("attn-form").requestSubmit(); }
  });
  function tab(name) {
    const attn = name === "attn";
    $("chat-panel").hidden = attn; $("attn-panel").hidden = !attn;
    $("tab-chat").setAttribute("aria-pressed", String(!attn));
    $("tab-attn").setAttribute("aria-pressed", String(attn));
  }
  function showAttention(text) {
    $("attn-text").value = text;
    tab("attn");
    drawAttention();
  }
  $("tab-chat").onclick = () => { tab("chat"); $("input").focus(); };
  $("tab-attn").onclick = () => { tab("attn"); $("attn-text").focus(); };

  // ---- settings ----
  const FIELDS = ["temperature", "top_p", "max_tokens"];
  $("settings-open").onclick = () => {
    FIELDS.forEach(f => { $("set-" + f).value = settings[f]; });
    $("settings").showModal();
  };
  $("settings-form").addEventListener("submit", () => {
    FIELDS.forEach(f => { const v = parseFloat($("set-" + f).value); if (isFinite(v)) settings[f] = f === "max_tokens" ? Math.round(v) : v; });
    store.set("settings", settings);
  });
  $("forget-key").onclick = () => { apiKey = ""; store.set("key", ""); $("settings").close(); start(); };

  // ---- start: the model's name (asking for the key if the server wants one) ----
  async function start() {
    document.body.dataset.state = "loading";
    try {
      const r = await api("/v1/models", {method: "GET"});
      const j = await r.json(), m = j.data && j.data[0];
      $("model-name").textContent = m ? m.id + (m.context_length ? " · " + m.context_length + " positions" : "") : "no model";
      document.body.dataset.state = "ready";
    } catch (e) {
      $("model-name").textContent = "unavailable: " + (e.message || e);
      document.body.dataset.state = "error";
      if (e.status === 503) setTimeout(start, 3000); // still loading
    }
  }
  drawAll();
  start();
  $("input").focus();
})();
