// Ditto dashboard: polls GET /v1/cache/stats and draws it with inline SVG.
// No dependencies; everything is built with DOM calls (never innerHTML with
// data), so model names are shown as text whatever they contain.
"use strict";

(function () {
  const REFRESH_MS = 5000;
  const SVG = "http://www.w3.org/2000/svg";
  const PALETTE = ["#4f46e5", "#10b981", "#f59e0b", "#ec4899", "#0ea5e9", "#8b5cf6", "#14b8a6", "#ef4444"];
  const COLORS = { hit: "#10b981", miss: "#f59e0b", coalesced: "#6366f1", other: "#94a3b8", all: "#64748b" };

  const state = { window: "1h", model: "", data: null, timer: null, lastOK: 0, colors: new Map() };
  const $ = (id) => document.getElementById(id);

  // ---- formatting -------------------------------------------------------
  const nf = new Intl.NumberFormat();
  function fmtInt(n) { return nf.format(n || 0); }
  function fmtPct(r) { return r == null ? "–" : (r * 100).toFixed(1) + "%"; }
  function fmtCompact(n) {
    n = n || 0;
    if (n >= 1e9) return (n / 1e9).toFixed(2) + "B";
    if (n >= 1e6) return (n / 1e6).toFixed(2) + "M";
    if (n >= 1e4) return (n / 1e3).toFixed(1) + "k";
    return fmtInt(n);
  }
  function fmtUSD(v) {
    v = v || 0;
    if (v === 0) return "$0.00";
    if (v >= 1000) return "$" + nf.format(Math.round(v));
    if (v >= 1) return "$" + v.toFixed(2);
    if (v >= 0.01) return "$" + v.toFixed(3);
    return "$" + v.toPrecision(3);
  }
  function fmtMS(v) {
    if (v == null) return "–";
    if (v >= 10000) return (v / 1000).toFixed(1) + " s";
    if (v >= 1000) return (v / 1000).toFixed(2) + " s";
    if (v >= 100) return Math.round(v) + " ms";
    if (v >= 10) return v.toFixed(1) + " ms";
    return v.toFixed(2) + " ms";
  }
  function fmtAxisMS(v) {
    if (v === 0) return "0";
    if (v >= 1000) return +(v / 1000).toFixed(2) + " s";
    if (v >= 1) return +v.toFixed(1) + " ms";
    return +v.toFixed(3) + " ms";
  }
  function fmtTime(t, bucket, long) {
    const d = new Date(t * 1000);
    const hm = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    if (state.window === "7d" || (long && bucket === "1h")) {
      return d.toLocaleDateString([], { weekday: "short" }) + " " + hm;
    }
    return hm;
  }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    if (attrs) for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    return e;
  }
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    if (attrs) for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    return e;
  }

  function colorOf(model) {
    if (!state.colors.has(model)) state.colors.set(model, PALETTE[state.colors.size % PALETTE.length]);
    return state.colors.get(model);
  }

  // ---- URL state --------------------------------------------------------
  function readHash() {
    const p = new URLSearchParams(location.hash.slice(1));
    const w = p.get("window");
    if (w === "1h" || w === "24h" || w === "7d") state.window = w;
    state.model = p.get("model") || "";
  }
  function writeHash() {
    const p = new URLSearchParams();
    if (state.window !== "1h") p.set("window", state.window);
    if (state.model) p.set("model", state.model);
    const h = p.toString();
    history.replaceState(null, "", h ? "#" + h : location.pathname + location.search);
  }

  // ---- data -------------------------------------------------------------
  async function load() {
    clearTimeout(state.timer);
    try {
      const r = await fetch("v1/cache/stats?window=" + encodeURIComponent(state.window), { cache: "no-store" });
      if (!r.ok) {
        let msg = "HTTP " + r.status;
        try { const j = await r.json(); if (j && j.error && j.error.message) msg = j.error.message; } catch (_) { /* not JSON */ }
        throw new Error(msg);
      }
      state.data = await r.json();
      state.lastOK = Date.now();
      banner("");
      render();
    } catch (err) {
      banner("Could not load statistics: " + err.message + " Retrying every " + REFRESH_MS / 1000 + " s.");
      markStale();
      loadHealth();
    } finally {
      if (!document.hidden) state.timer = setTimeout(load, REFRESH_MS);
    }
  }

  // When statistics are unavailable, /readyz still says how the store is.
  async function loadHealth() {
    try {
      const r = await fetch("readyz", { cache: "no-store" });
      const j = await r.json();
      if (j && j.store) renderStore(j.store, null);
    } catch (_) { /* the gateway itself is unreachable */ }
  }

  function banner(text) {
    const b = $("banner");
    b.textContent = text;
    b.hidden = !text;
  }
  function markStale() {
    const u = $("updated");
    u.classList.add("stale");
    u.textContent = state.lastOK ? "Last update " + new Date(state.lastOK).toLocaleTimeString() : "No data";
  }

  // ---- rendering --------------------------------------------------------
  function selected() {
    const d = state.data;
    if (!state.model) return { summary: d.totals, series: d.series };
    const m = d.models.find((x) => x.model === state.model);
    if (!m) return { summary: emptySummary(), series: d.series.map((p) => ({ t: p.t })) };
    return { summary: m, series: m.series };
  }
  function emptySummary() {
    return { requests: 0, hits: 0, misses: 0, coalesced: 0, bypasses: 0, errors: 0, hit_ratio: null,
      hit_latency_ms: null, miss_latency_ms: null, tokens_saved: 0, cost_saved_usd: 0, upstream_calls: 0, upstream_errors: 0, shadow_hits: 0 };
  }

  function render() {
    const d = state.data;
    for (const m of d.models) colorOf(m.model);
    renderModelSelect(d.models);
    const { summary, series } = selected();
    renderKPIs(summary);
    renderRatioChart(d, series);
    renderRequestsChart(series, d.bucket);
    renderLatencyChart(series, d.bucket);
    renderTable(d.models);
    renderStore(d.store, d.stats);
    const u = $("updated");
    u.classList.remove("stale");
    u.textContent = "Updated " + new Date().toLocaleTimeString();
    $("raw-link").setAttribute("href", "v1/cache/stats?window=" + state.window + (state.model ? "&model=" + encodeURIComponent(state.model) : ""));
  }

  function renderModelSelect(models) {
    const sel = $("model");
    const want = [""].concat(models.map((m) => m.model));
    if (state.model && want.indexOf(state.model) < 0) want.push(state.model);
    const have = Array.from(sel.options).map((o) => o.value);
    if (have.join("\u0000") !== want.join("\u0000")) {
      sel.textContent = "";
      for (const v of want) sel.appendChild(el("option", { value: v }, v || "All models"));
    }
    sel.value = state.model;
  }

  function renderKPIs(s) {
    const lookups = s.hits + s.misses + s.coalesced;
    $("kpi-hit-ratio").textContent = fmtPct(s.hit_ratio);
    let hitSub = lookups ? fmtInt(s.hits) + " hits of " + fmtInt(lookups) + " lookups" : "no lookups yet";
    // Shadow-mode routes serve nothing from the cache: show what they would have.
    if (s.shadow_hits) hitSub += " · " + fmtInt(s.shadow_hits) + " would have hit (shadow)";
    $("kpi-hit-ratio-sub").textContent = hitSub;
    $("kpi-hit-meter").style.width = ((s.hit_ratio || 0) * 100).toFixed(1) + "%";
    $("kpi-requests").textContent = fmtInt(s.requests);
    $("kpi-requests-sub").textContent = fmtInt(s.coalesced) + " coalesced · " + fmtInt(s.bypasses) + " bypass · " + fmtInt(s.errors) + " errors";
    $("kpi-cost").textContent = fmtUSD(s.cost_saved_usd);
    $("kpi-tokens").textContent = fmtCompact(s.tokens_saved);
    $("kpi-tokens-sub").textContent = "answered without a provider call";
    const h = s.hit_latency_ms, m = s.miss_latency_ms;
    $("kpi-hit-lat").textContent = fmtMS(h);
    let lat = "mean of hits; misses " + fmtMS(m);
    if (h && m) lat = "vs " + fmtMS(m) + " on a miss: " + (m / h >= 10 ? nf.format(Math.round(m / h)) : (m / h).toFixed(1)) + "× faster";
    $("kpi-lat-sub").textContent = lat;
    $("kpi-upstream").textContent = fmtInt(s.upstream_calls);
    $("kpi-upstream-sub").textContent = fmtInt(s.upstream_errors) + " failed · retries included";
  }

  function renderStore(store, stats) {
    const pill = $("store-pill");
    pill.classList.remove("ok", "warn", "bad");
    if (!store) return;
    let cls = "ok";
    if (store.status !== "ok" || store.breaker === "open") cls = "bad";
    else if (store.breaker === "half-open") cls = "warn";
    pill.classList.add(cls);
    let text = "Store: " + store.kind + (store.status === "ok" ? "" : " (" + store.status + ")");
    if (store.breaker) text += " · breaker " + store.breaker;
    $("store-text").textContent = text;
    if (stats) {
      const scope = stats.backend === "redis" ? "cluster-wide (Redis)" : "this gateway only (memory)";
      let t = "Statistics: " + scope + " · " + fmtInt(stats.dropped) + " dropped · " + fmtInt(stats.flush_errors) + " flush errors";
      if (stats.last_error) t += " · last error: " + stats.last_error;
      $("foot-stats").textContent = t;
    }
  }

  function renderTable(models) {
    const body = document.querySelector("#models tbody");
    body.textContent = "";
    $("models-empty").hidden = models.length > 0;
    for (const m of models) {
      const tr = el("tr", { "data-testid": "model-row", "data-model": m.model });
      if (m.model === state.model) tr.className = "selected";
      const name = el("td");
      const span = el("span", { class: "model-name" });
      const dot = el("i");
      dot.style.background = colorOf(m.model);
      span.appendChild(dot);
      span.appendChild(document.createTextNode(m.model));
      name.appendChild(span);
      tr.appendChild(name);
      tr.appendChild(el("td", { class: "num" }, fmtInt(m.requests)));
      const rc = el("td");
      const ratio = el("div", { class: "ratio" });
      const bar = el("div", { class: "bar" });
      const fill = el("span");
      fill.style.width = ((m.hit_ratio || 0) * 100).toFixed(1) + "%";
      bar.appendChild(fill);
      ratio.appendChild(bar);
      ratio.appendChild(el("b", { "data-testid": "hit-ratio" }, fmtPct(m.hit_ratio)));
      rc.appendChild(ratio);
      tr.appendChild(rc);
      for (const v of [m.hits, m.misses, m.coalesced, m.bypasses, m.errors]) {
        tr.appendChild(el("td", { class: "num" + (v ? "" : " muted") }, fmtInt(v)));
      }
      tr.appendChild(el("td", { class: "num" }, fmtMS(m.hit_latency_ms)));
      tr.appendChild(el("td", { class: "num" }, fmtMS(m.miss_latency_ms)));
      tr.appendChild(el("td", { class: "num" }, fmtCompact(m.tokens_saved)));
      tr.appendChild(el("td", { class: "num" }, fmtUSD(m.cost_saved_usd)));
      tr.addEventListener("click", () => selectModel(m.model === state.model ? "" : m.model));
      body.appendChild(tr);
    }
  }

  // ---- charts -----------------------------------------------------------
  // Each chart keeps what its tooltip needs on the container element.
  function legend(id, items) {
    const box = $(id);
    box.textContent = "";
    for (const it of items) {
      const s = el("span");
      const i = el("i", it.dash ? { class: "dash" } : null);
      i.style.background = it.color;
      s.appendChild(i);
      s.appendChild(document.createTextNode(it.name));
      box.appendChild(s);
    }
  }

  function frame(container) {
    const w = Math.max(container.clientWidth, 280);
    const h = Math.max(container.clientHeight, 160);
    const pad = { l: 52, r: 14, t: 10, b: 26 };
    const root = svg("svg", { viewBox: "0 0 " + w + " " + h, role: "img" });
    container.textContent = "";
    container.appendChild(root);
    return { root, w, h, pad, iw: w - pad.l - pad.r, ih: h - pad.t - pad.b };
  }

  // niceMax rounds a maximum up so that the 4 gridlines fall on round
  // numbers (whole ones when integer is set).
  function niceMax(v, integer) {
    if (!(v > 0)) return integer ? 4 : 1;
    const raw = v / 4;
    if (integer && raw <= 1) return 4;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) {
      const step = m * p;
      if (integer && step !== Math.round(step)) continue;
      if (step >= raw) return step * 4;
    }
    return 40 * p;
  }

  function axes(f, n, yMax, yFmt, times, bucket) {
    const ticks = 4;
    for (let i = 0; i <= ticks; i++) {
      const v = (yMax * i) / ticks;
      const y = f.pad.t + f.ih - (f.ih * i) / ticks;
      f.root.appendChild(svg("line", { class: "gridline", x1: f.pad.l, x2: f.pad.l + f.iw, y1: y, y2: y }));
      f.root.appendChild(svg("text", { class: "axis", x: f.pad.l - 8, y: y + 4, "text-anchor": "end" }, yFmt(v)));
    }
    const every = Math.max(1, Math.ceil(n / Math.max(2, Math.floor(f.iw / 90))));
    for (let i = 0; i < n; i += every) {
      const x = xAt(f, n, i);
      f.root.appendChild(svg("text", { class: "axis", x: x, y: f.h - 6, "text-anchor": i === 0 ? "start" : "middle" }, fmtTime(times[i], bucket)));
    }
  }

  function xAt(f, n, i) { return f.pad.l + (n <= 1 ? f.iw / 2 : (f.iw * i) / (n - 1)); }

  function pathOf(f, n, values, yMax) {
    let d = "", pen = false;
    values.forEach((v, i) => {
      if (v == null) { pen = false; return; }
      const x = xAt(f, n, i), y = f.pad.t + f.ih - (f.ih * Math.min(v, yMax)) / yMax;
      d += (pen ? "L" : "M") + x.toFixed(1) + " " + y.toFixed(1);
      pen = true;
    });
    return d;
  }

  function noData(f, text) {
    f.root.appendChild(svg("text", { class: "nodata", x: f.pad.l + f.iw / 2, y: f.pad.t + f.ih / 2, "text-anchor": "middle" }, text));
  }

  // Isolated points (a bucket between two empty ones) get a dot so they show.
  function dots(f, n, values, yMax, color) {
    values.forEach((v, i) => {
      if (v == null) return;
      const prev = i > 0 ? values[i - 1] : null, next = i < n - 1 ? values[i + 1] : null;
      if (prev != null && next != null) return;
      const x = xAt(f, n, i), y = f.pad.t + f.ih - (f.ih * Math.min(v, yMax)) / yMax;
      f.root.appendChild(svg("circle", { cx: x, cy: y, r: 3, fill: color }));
    });
  }

  function lineChart(container, lines, opts) {
    const f = frame(container);
    const n = opts.times.length;
    const yMax = opts.yMax != null ? opts.yMax : niceMax(Math.max(0, ...lines.flatMap((l) => l.values.filter((v) => v != null))));
    axes(f, n, yMax, opts.yFmt, opts.times, opts.bucket);
    if (!lines.some((l) => l.values.some((v) => v != null))) noData(f, opts.empty);
    for (const l of lines) {
      const attrs = { class: "line", d: pathOf(f, n, l.values, yMax), stroke: l.color };
      if (l.dash) attrs["stroke-dasharray"] = "5 4";
      f.root.appendChild(svg("path", attrs));
      dots(f, n, l.values, yMax, l.color);
    }
    hover(container, f, n, (i) => ({ t: opts.times[i], rows: lines.map((l) => ({ name: l.name, color: l.color, text: opts.tipFmt(l.values[i]) })) }));
  }

  function barChart(container, stacks, opts) {
    const f = frame(container);
    const n = opts.times.length;
    const totals = opts.times.map((_, i) => stacks.reduce((a, s) => a + (s.values[i] || 0), 0));
    const yMax = niceMax(Math.max(0, ...totals), true);
    axes(f, n, yMax, (v) => fmtCompact(Math.round(v)), opts.times, opts.bucket);
    if (!totals.some((v) => v > 0)) noData(f, opts.empty);
    const slot = f.iw / Math.max(n, 1);
    const bw = Math.max(1, Math.min(18, slot * 0.7));
    for (let i = 0; i < n; i++) {
      let y = f.pad.t + f.ih;
      const x = xAt(f, n, i) - bw / 2;
      for (const s of stacks) {
        const v = s.values[i] || 0;
        if (!v) continue;
        const h = (f.ih * v) / yMax;
        y -= h;
        f.root.appendChild(svg("rect", { x: x.toFixed(1), y: y.toFixed(1), width: bw.toFixed(1), height: Math.max(h, 0.5).toFixed(1), rx: Math.min(2, bw / 3), fill: s.color }));
      }
    }
    hover(container, f, n, (i) => ({ t: opts.times[i], rows: stacks.map((s) => ({ name: s.name, color: s.color, text: fmtInt(s.values[i] || 0) })) }));
  }

  function hover(container, f, n, describe) {
    const tip = $("tooltip");
    const cursor = svg("line", { class: "cursor", y1: f.pad.t, y2: f.pad.t + f.ih, x1: 0, x2: 0, visibility: "hidden" });
    f.root.appendChild(cursor);
    f.root.addEventListener("mousemove", (ev) => {
      const box = f.root.getBoundingClientRect();
      const x = ((ev.clientX - box.left) / box.width) * f.w;
      const i = Math.max(0, Math.min(n - 1, Math.round(((x - f.pad.l) / f.iw) * (n - 1))));
      const cx = xAt(f, n, i);
      cursor.setAttribute("x1", cx);
      cursor.setAttribute("x2", cx);
      cursor.setAttribute("visibility", "visible");
      const d = describe(i);
      tip.textContent = "";
      tip.appendChild(el("div", { class: "t" }, fmtTime(d.t, state.data.bucket, true)));
      for (const r of d.rows) {
        const row = el("div");
        const dot = el("i");
        dot.style.background = r.color;
        row.appendChild(dot);
        row.appendChild(document.createTextNode(r.name + ": " + r.text));
        tip.appendChild(row);
      }
      tip.hidden = false;
      const tx = Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
      tip.style.left = tx + "px";
      tip.style.top = ev.clientY + 14 + "px";
    });
    f.root.addEventListener("mouseleave", () => {
      tip.hidden = true;
      cursor.setAttribute("visibility", "hidden");
    });
  }

  function renderRatioChart(d, series) {
    const times = d.series.map((p) => p.t);
    let lines;
    if (state.model) {
      lines = [{ name: state.model, color: colorOf(state.model), values: series.map((p) => (p.hit_ratio == null ? null : p.hit_ratio)) }];
    } else {
      lines = d.models.filter((m) => m.hits + m.misses + m.coalesced > 0).slice(0, 6)
        .map((m) => ({ name: m.model, color: colorOf(m.model), values: m.series.map((p) => (p.hit_ratio == null ? null : p.hit_ratio)) }));
      if (lines.length > 1) {
        lines.push({ name: "all models", color: COLORS.all, dash: true, values: d.series.map((p) => (p.hit_ratio == null ? null : p.hit_ratio)) });
      }
    }
    legend("legend-ratio", lines);
    lineChart($("chart-ratio"), lines, { times, bucket: d.bucket, yMax: 1, yFmt: (v) => Math.round(v * 100) + "%", tipFmt: fmtPct, empty: "No cache lookups in this window yet" });
  }

  function renderRequestsChart(series, bucket) {
    const stacks = [
      { name: "hits", color: COLORS.hit, values: series.map((p) => p.hits || 0) },
      { name: "coalesced", color: COLORS.coalesced, values: series.map((p) => p.coalesced || 0) },
      { name: "misses", color: COLORS.miss, values: series.map((p) => p.misses || 0) },
      { name: "bypass & errors", color: COLORS.other, values: series.map((p) => (p.requests || 0) - (p.hits || 0) - (p.misses || 0) - (p.coalesced || 0)) },
    ];
    legend("legend-requests", stacks);
    barChart($("chart-requests"), stacks, { times: series.map((p) => p.t), bucket, empty: "No requests in this window yet" });
  }

  function renderLatencyChart(series, bucket) {
    const lines = [
      { name: "hit", color: COLORS.hit, values: series.map((p) => (p.hit_latency_ms == null ? null : p.hit_latency_ms)) },
      { name: "miss", color: COLORS.miss, values: series.map((p) => (p.miss_latency_ms == null ? null : p.miss_latency_ms)) },
    ];
    legend("legend-latency", lines.map((l) => ({ name: l.name + " (mean)", color: l.color })));
    lineChart($("chart-latency"), lines, { times: series.map((p) => p.t), bucket, yFmt: fmtAxisMS, tipFmt: fmtMS, empty: "No latencies in this window yet" });
  }

  // ---- interaction ------------------------------------------------------
  function selectWindow(w) {
    state.window = w;
    for (const b of document.querySelectorAll("#windows button")) b.setAttribute("aria-pressed", String(b.dataset.window === w));
    writeHash();
    load();
  }
  function selectModel(m) {
    state.model = m;
    writeHash();
    if (state.data) render();
  }

  function init() {
    readHash();
    for (const b of document.querySelectorAll("#windows button")) {
      b.setAttribute("aria-pressed", String(b.dataset.window === state.window));
      b.addEventListener("click", () => selectWindow(b.dataset.window));
    }
    $("model").addEventListener("change", (e) => selectModel(e.target.value));
    let resizeTimer = 0;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => { if (state.data) render(); }, 150);
    });
    document.addEventListener("visibilitychange", () => { if (!document.hidden) load(); });
    load();
  }

  init();
})();
