#include "loadgen/html_report.h"

#include <algorithm>

namespace tf {
namespace {

using Json = nlohmann::json;

// The page: styles, a summary table and chart containers, then the script
// that draws them. Data comes from the <script type="application/json">.
constexpr const char* kHead = R"HTML(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>tokenfab loadgen report</title>
<style>
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:24px;color:#1d2330;background:#fafbfc}
h1{font-size:22px;margin:0 0 4px}
.sub{color:#5b6475;margin-bottom:18px;font-size:13px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:18px}
.card{background:#fff;border:1px solid #e1e5ec;border-radius:8px;padding:12px 14px}
.card h2{font-size:15px;margin:0 0 6px}
table{border-collapse:collapse;font-size:12px;width:100%;margin-bottom:18px;background:#fff}
th,td{border:1px solid #e1e5ec;padding:4px 6px;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f1f3f7}
svg text{font-size:11px;fill:#3b4252}
.axis line,.axis path{stroke:#9aa3b2}
.gridline{stroke:#eceff4}
</style></head><body>
<h1>tokenfab loadgen report</h1>
<div class="sub" id="sub"></div>
<table id="summary"></table>
<div class="grid">
<div class="card"><h2>Output tokens/s vs load</h2><div id="c_tput"></div></div>
<div class="card"><h2>Time to first token vs load (ms)</h2><div id="c_ttft"></div></div>
<div class="card"><h2>Time per output token vs load (ms)</h2><div id="c_tpot"></div></div>
<div class="card"><h2>TTFT CDF (ms)</h2><div id="c_ttft_cdf"></div></div>
<div class="card"><h2>End-to-end latency CDF (s)</h2><div id="c_e2e_cdf"></div></div>
<div class="card"><h2>Output tokens/s over time</h2><div id="c_time"></div></div>
</div>
<script type="application/json" id="data">)HTML";

constexpr const char* kScript = R"HTML(</script>
<script>
"use strict";
window.onerror = function (msg) { document.body.dataset.error = String(msg); };
(function () {
  const data = JSON.parse(document.getElementById("data").textContent);
  const runs = data.runs;
  const colors = ["#2f6fdf", "#e4572e", "#17a398", "#f2a541", "#8e6fd8", "#c0396b", "#4d9078", "#6b7a8f"];
  const NS = "http://www.w3.org/2000/svg";
  function el(name, attrs, parent) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function text(parent, x, y, s, anchor) {
    const t = el("text", {x: x, y: y, "text-anchor": anchor || "middle"}, parent);
    t.textContent = s;
    return t;
  }
  function ticks(lo, hi, n) {
    if (!(hi > lo)) { hi = lo + 1; }
    const raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map(function (m) { return m * mag; }).find(function (s) { return s >= raw; });
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
    return out;
  }
  function fmt(v) { return Math.abs(v) >= 1000 ? (v / 1000).toFixed(1) + "k" : (+v.toPrecision(3)).toString(); }
  // series: [{name, points: [[x, y], ...], step}] ; opts: {xLabel, yLabel, xLog}
  function lineChart(id, series, opts) {
    const legendRows = Math.ceil(series.length / 4);
    const W = 540, L = 56, R = 14, T = 12, B = 44 + 14 * legendRows, H = 286 + 14 * legendRows;
    const svg = el("svg", {width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img"});
    document.getElementById(id).appendChild(svg);
    const pts = [].concat.apply([], series.map(function (s) { return s.points; }));
    if (pts.length === 0) { text(svg, W / 2, H / 2, "no data"); return svg; }
    const tx = function (x) { return opts.xLog ? Math.log2(Math.max(x, 1e-9)) : x; };
    let x0 = Math.min.apply(null, pts.map(function (p) { return tx(p[0]); }));
    let x1 = Math.max.apply(null, pts.map(function (p) { return tx(p[0]); }));
    if (x1 === x0) { x0 -= 1; x1 += 1; }
    const y1 = Math.max.apply(null, pts.map(function (p) { return p[1]; })) * 1.08 || 1;
    const sx = function (x) { return L + (tx(x) - x0) / (x1 - x0) * (W - L - R); };
    const sy = function (y) { return T + (1 - y / y1) * (H - T - B); };
    const axis = el("g", {"class": "axis"}, svg);
    ticks(0, y1, 5).forEach(function (v) {
      el("line", {x1: L, x2: W - R, y1: sy(v), y2: sy(v), "class": "gridline"}, axis);
      text(axis, L - 6, sy(v) + 4, fmt(v), "end");
    });
    const xt = opts.xLog ? pts.map(function (p) { return p[0]; }).filter(function (v, i, a) { return a.indexOf(v) === i; })
                         : ticks(x0, x1, 6);
    xt.forEach(function (v) {
      el("line", {x1: sx(v), x2: sx(v), y1: H - B, y2: H - B + 4}, axis);
      text(axis, sx(v), H - B + 16, fmt(v));
    });
    el("line", {x1: L, x2: W - R, y1: H - B, y2: H - B}, axis);
    el("line", {x1: L, x2: L, y1: T, y2: H - B}, axis);
    text(svg, (L + W - R) / 2, H - B + 30, opts.xLabel);
    const yl = text(svg, 14, (T + H - B) / 2, opts.yLabel);
    yl.setAttribute("transform", "rotate(-90 14 " + (T + H - B) / 2 + ")");
    series.forEach(function (s, i) {
      const c = colors[i % colors.length];
      const d = s.points.map(function (p, j) {
        const cmd = j === 0 ? "M" : "L";
        if (s.step && j > 0) return "H" + sx(p[0]).toFixed(1) + "V" + sy(p[1]).toFixed(1);
        return cmd + sx(p[0]).toFixed(1) + "," + sy(p[1]).toFixed(1);
      }).join("");
      el("path", {d: d, fill: "none", stroke: c, "stroke-width": 2}, svg);
      if (!s.step && s.points.length <= 30) s.points.forEach(function (p) {
        const m = el("circle", {cx: sx(p[0]), cy: sy(p[1]), r: 3.5, fill: c}, svg);
        el("title", {}, m).textContent = s.name + ": " + fmt(p[0]) + " -> " + fmt(p[1]);
      });
      const lx = L + 8 + (i % 4) * 120, ly = H - 6 - (legendRows - 1 - Math.floor(i / 4)) * 14;
      el("rect", {x: lx, y: ly - 8, width: 10, height: 10, fill: c}, svg);
      text(svg, lx + 14, ly + 1, s.name, "start");
    });
    return svg;
  }
  const byRate = runs.length > 0 && runs[0].summary.concurrency === 0;
  const load = function (r) { return byRate ? r.summary.rate : r.summary.concurrency; };
  const loadLabel = byRate ? "request rate (req/s)" : "concurrency";
  const pctSeries = function (key, scale) {
    return ["p50", "p90", "p99"].map(function (q) {
      return {name: q, points: runs.map(function (r) { return [load(r), r.summary[key][q] * scale]; })};
    });
  };
  const cdf = function (key, scale) {
    return runs.map(function (r) {
      const v = r.requests.filter(function (q) { return q.error === null && q[key] >= 0; })
                          .map(function (q) { return q[key] * scale; }).sort(function (a, b) { return a - b; });
      return {name: r.summary.label, step: true, points: v.map(function (x, i) { return [x, (i + 1) / v.length]; })};
    });
  };
  let drawn = 0;
  lineChart("c_tput", [
    {name: "output tok/s", points: runs.map(function (r) { return [load(r), r.summary.output_tok_s]; })},
    {name: "goodput tok/s", points: runs.map(function (r) { return [load(r), r.summary.output_tok_s * r.summary.goodput_fraction]; })}
  ], {xLabel: loadLabel, yLabel: "tokens/s", xLog: !byRate}); drawn++;
  lineChart("c_ttft", pctSeries("ttft_s", 1000), {xLabel: loadLabel, yLabel: "ms", xLog: !byRate}); drawn++;
  lineChart("c_tpot", pctSeries("tpot_s", 1000), {xLabel: loadLabel, yLabel: "ms", xLog: !byRate}); drawn++;
  lineChart("c_ttft_cdf", cdf("ttft_s", 1000), {xLabel: "TTFT (ms)", yLabel: "fraction of requests"}); drawn++;
  lineChart("c_e2e_cdf", cdf("e2e_s", 1), {xLabel: "end-to-end latency (s)", yLabel: "fraction of requests"}); drawn++;
  lineChart("c_time", runs.map(function (r) {
    return {name: r.summary.label, points: r.summary.timeline_output_tok_s.map(function (v, i) { return [(i + 0.5) * r.summary.timeline_bucket_s, v]; })};
  }), {xLabel: "seconds into the run", yLabel: "output tokens/s"}); drawn++;

  const cfg = data.config;
  document.getElementById("sub").textContent = "target " + cfg.url + " | model " + (cfg.model || "(server default)") +
      " | " + cfg.endpoint + " | input " + cfg.input_tokens + " tokens, output " + cfg.output_tokens +
      " tokens, shared prefix " + cfg.shared_prefix_tokens + " | generated " + data.generated_at;
  const head = ["run", "ok", "errors", "req/s", "in tok/s", "out tok/s", "TTFT p50 ms", "TTFT p99 ms", "TPOT p50 ms",
                "TPOT p99 ms", "ITL p50 ms", "E2E p50 s", "goodput", "$/M out tok"];
  const table = document.getElementById("summary");
  const tr0 = table.insertRow();
  head.forEach(function (h) { const th = document.createElement("th"); th.textContent = h; tr0.appendChild(th); });
  runs.forEach(function (r) {
    const s = r.summary, tr = table.insertRow();
    [s.label, s.num_ok, s.num_errors, s.request_throughput.toFixed(2), s.input_tok_s.toFixed(1), s.output_tok_s.toFixed(1),
     (s.ttft_s.p50 * 1e3).toFixed(0), (s.ttft_s.p99 * 1e3).toFixed(0), (s.tpot_s.p50 * 1e3).toFixed(1),
     (s.tpot_s.p99 * 1e3).toFixed(1), (s.itl_s.p50 * 1e3).toFixed(1), s.e2e_s.p50.toFixed(2),
     (s.goodput_fraction * 100).toFixed(0) + "%", s.usd_per_million_output_tokens ? s.usd_per_million_output_tokens.toFixed(3) : "-"
    ].forEach(function (v) { tr.insertCell().textContent = v; });
  });
  document.body.dataset.charts = String(drawn);
})();
</script></body></html>
)HTML";

// Embedding JSON in <script>: "</" must not close the element.
std::string EscapeForScript(std::string json) {
  std::string out;
  out.reserve(json.size());
  for (size_t i = 0; i < json.size(); ++i) {
    if (json[i] == '<' && i + 1 < json.size() && json[i + 1] == '/') {
      out += "<\\/";
      ++i;
    } else {
      out += json[i];
    }
  }
  return out;
}

}  // namespace

std::string RenderHtmlReport(const Json& report) {
  return std::string(kHead) + EscapeForScript(report.dump(-1, ' ', false, Json::error_handler_t::replace)) + kScript;
}

}  // namespace tf
