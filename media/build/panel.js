"use strict";
(() => {
  // extension/src/runs/series.ts
  var SMOOTHING = 0.6;
  function createSeries() {
    return {
      status: "starting",
      start: null,
      last: null,
      end: null,
      error: null,
      warnings: [],
      checkpoints: [],
      step: [],
      loss: [],
      lossSmooth: [],
      learningRate: [],
      gradNorm: [],
      tokensPerSecond: [],
      allocated: [],
      reserved: [],
      peak: [],
      evalStep: [],
      evalLoss: []
    };
  }
  var STEP_ARRAYS = ["step", "loss", "lossSmooth", "learningRate", "gradNorm", "tokensPerSecond", "allocated", "reserved", "peak"];
  function truncateAfter(series, step) {
    let keep = series.step.length;
    while (keep > 0 && series.step[keep - 1] > step) keep--;
    for (const key of STEP_ARRAYS) series[key].length = keep;
    let keepEval = series.evalStep.length;
    while (keepEval > 0 && series.evalStep[keepEval - 1] > step) keepEval--;
    series.evalStep.length = keepEval;
    series.evalLoss.length = keepEval;
  }
  function smoothedAt(series, loss) {
    const n = series.lossSmooth.length;
    if (n === 0) return loss;
    const prevDebias = 1 - SMOOTHING ** n;
    const prevEma = series.lossSmooth[n - 1] * prevDebias;
    const ema = prevEma * SMOOTHING + (1 - SMOOTHING) * loss;
    return ema / (1 - SMOOTHING ** (n + 1));
  }
  function applyEvent(series, event) {
    switch (event.event) {
      case "start":
        series.start = event;
        series.end = null;
        series.error = null;
        series.status = "running";
        if (typeof event.resumed_from_step === "number") truncateAfter(series, event.resumed_from_step);
        break;
      case "step": {
        if (series.step.length && event.step <= series.step[series.step.length - 1]) truncateAfter(series, event.step - 1);
        series.step.push(event.step);
        series.lossSmooth.push(smoothedAt(series, event.loss));
        series.loss.push(event.loss);
        series.learningRate.push(event.learning_rate);
        series.gradNorm.push(event.grad_norm ?? null);
        series.tokensPerSecond.push(event.tokens_per_second);
        series.allocated.push(event.allocated_bytes);
        series.reserved.push(event.reserved_bytes);
        series.peak.push(event.peak_allocated_bytes);
        series.last = event;
        if (series.status === "starting") series.status = "running";
        break;
      }
      case "eval":
        series.evalStep.push(event.step);
        series.evalLoss.push(event.eval_loss);
        break;
      case "checkpoint":
        series.checkpoints.push(event.step);
        break;
      case "warning":
        series.warnings.push(event.message);
        break;
      case "error":
        series.error = event;
        break;
      case "end":
        series.end = event;
        series.status = event.status;
        break;
    }
    return series;
  }
  function runHeader(series) {
    const last = series.last;
    return {
      status: series.status,
      step: series.end?.step ?? last?.step ?? 0,
      totalSteps: last?.total_steps ?? series.start?.total_steps ?? null,
      elapsedS: series.end?.elapsed_s ?? last?.elapsed_s ?? null,
      etaS: series.end ? 0 : last?.eta_s ?? null,
      finalLoss: series.end?.final_loss ?? (series.loss.length ? series.loss[series.loss.length - 1] : null)
    };
  }
  function alignSeries(list) {
    const xs = [...new Set(list.flatMap((s) => s.x))].sort((a, b) => a - b);
    const index = new Map(xs.map((x, i) => [x, i]));
    const ys = list.map((s) => {
      const column = new Array(xs.length).fill(null);
      s.x.forEach((x, i) => {
        column[index.get(x)] = s.y[i] ?? null;
      });
      return column;
    });
    return [xs, ...ys];
  }
  function formatDuration(seconds) {
    if (seconds === null || !Number.isFinite(seconds)) return "\u2013";
    const s = Math.max(0, Math.round(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor(s % 3600 / 60);
    const sec = s % 60;
    if (h) return `${h}h ${String(m).padStart(2, "0")}m`;
    if (m) return `${m}m ${String(sec).padStart(2, "0")}s`;
    return `${sec}s`;
  }
  function formatGiB(bytes) {
    return typeof bytes === "number" && Number.isFinite(bytes) ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : "\u2013";
  }

  // media/panel.ts
  var vscode = acquireVsCodeApi();
  var GiB = 2 ** 30;
  var runs = [];
  var charts = /* @__PURE__ */ new Map();
  var chartsKey = "";
  var scheduled = false;
  function cssVar(name, fallback) {
    return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
  }
  function palette() {
    return [
      cssVar("--vscode-charts-blue", "#3794ff"),
      cssVar("--vscode-charts-orange", "#d18616"),
      cssVar("--vscode-charts-green", "#89d185"),
      cssVar("--vscode-charts-purple", "#b180d7"),
      cssVar("--vscode-charts-red", "#f14c4c"),
      cssVar("--vscode-charts-yellow", "#cca700")
    ];
  }
  function constant(label, steps, value, color, dash) {
    const x = steps.length ? [steps[0], steps[steps.length - 1]] : [];
    return { label, x, y: x.map(() => value), color, dash };
  }
  function singleRunCharts(view) {
    const s = view.series;
    const [blue, orange, green, purple, red, yellow] = palette();
    const gib = (xs) => xs.map((v) => v / GiB);
    const memory = [
      { label: "allocated", x: s.step, y: gib(s.allocated), color: blue },
      { label: "reserved", x: s.step, y: gib(s.reserved), color: purple },
      { label: "peak", x: s.step, y: gib(s.peak), color: orange }
    ];
    const estimate = s.start?.estimate_peak_bytes;
    if (typeof estimate === "number") memory.push(constant("estimated peak", s.step, estimate / GiB, yellow, [6, 4]));
    const capacity = s.start?.gpu?.memory_bytes;
    if (typeof capacity === "number") memory.push(constant("GPU capacity", s.step, capacity / GiB, red, [2, 3]));
    return [
      { id: "loss", title: "Loss", unit: "", lines: [
        { label: "train", x: s.step, y: s.loss, color: blue, width: 1 },
        { label: "train (smoothed)", x: s.step, y: s.lossSmooth, color: green, width: 2 },
        { label: "eval", x: s.evalStep, y: s.evalLoss, color: orange, width: 2, points: true }
      ] },
      { id: "lr", title: "Learning rate", unit: "", lines: [{ label: "learning rate", x: s.step, y: s.learningRate, color: purple }] },
      { id: "grad", title: "Gradient norm", unit: "", lines: [{ label: "grad norm", x: s.step, y: s.gradNorm, color: red }] },
      { id: "tps", title: "Throughput", unit: "tokens/s", lines: [{ label: "tokens/s", x: s.step, y: s.tokensPerSecond, color: green }] },
      { id: "memory", title: "GPU memory", unit: "GiB", lines: memory }
    ];
  }
  function compareCharts(views) {
    const colors = palette();
    const per = (pick, suffix = "", dash) => views.map((v, i) => ({ label: `${v.run.label}${suffix}`, ...pick(v.series), color: colors[i % colors.length], dash }));
    return [
      { id: "loss", title: "Loss (smoothed train, dashed eval)", unit: "", lines: [
        ...per((s) => ({ x: s.step, y: s.lossSmooth })),
        ...per((s) => ({ x: s.evalStep, y: s.evalLoss }), " eval", [6, 4]).map((l) => ({ ...l, points: true }))
      ] },
      { id: "lr", title: "Learning rate", unit: "", lines: per((s) => ({ x: s.step, y: s.learningRate })) },
      { id: "grad", title: "Gradient norm", unit: "", lines: per((s) => ({ x: s.step, y: s.gradNorm })) },
      { id: "tps", title: "Throughput", unit: "tokens/s", lines: per((s) => ({ x: s.step, y: s.tokensPerSecond })) },
      { id: "memory", title: "Peak GPU memory (dashed: estimate)", unit: "GiB", lines: [
        ...per((s) => ({ x: s.step, y: s.peak.map((v) => v / GiB) })),
        ...views.flatMap((v, i) => typeof v.series.start?.estimate_peak_bytes === "number" ? [constant(`${v.run.label} estimate`, v.series.step, v.series.start.estimate_peak_bytes / GiB, colors[i % colors.length], [6, 4])] : [])
      ] }
    ];
  }
  function chartWidth() {
    const main = document.getElementById("charts");
    const columns = main.clientWidth >= 900 ? 2 : 1;
    return Math.max(280, Math.floor(main.clientWidth / columns) - 24);
  }
  function formatTick(value) {
    const abs = Math.abs(value);
    if (abs === 0) return "0";
    if (abs < 0.01) return value.toExponential(1);
    return abs >= 1e3 ? Math.round(value).toLocaleString("en-US") : String(Number(value.toPrecision(3)));
  }
  function makeChart(spec, container) {
    const fg = cssVar("--vscode-foreground", "#cccccc");
    const grid = cssVar("--vscode-editorWidget-border", "rgba(128,128,128,0.25)");
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const opts = {
      title: spec.title + (spec.unit ? ` (${spec.unit})` : ""),
      width: chartWidth(),
      height: 220,
      scales: { x: { time: false }, y: spec.log ? { distr: 3 } : {} },
      axes: [{ ...axis, label: "step" }, { ...axis, size: 64, values: (_u, ticks) => ticks.map(formatTick) }],
      legend: { live: true },
      series: [
        { label: "step" },
        ...spec.lines.map((l) => ({ label: l.label, stroke: l.color, width: l.width ?? 1.5, dash: l.dash, spanGaps: true, points: { show: l.points ?? false } }))
      ]
    };
    return new uPlot(opts, alignSeries(spec.lines), container);
  }
  function renderCharts() {
    const specs = runs.length === 1 ? singleRunCharts(runs[0]) : compareCharts(runs);
    const key = specs.map((s) => `${s.id}:${s.lines.map((l) => l.label).join(",")}`).join("|");
    const main = document.getElementById("charts");
    if (key !== chartsKey) {
      for (const chart of charts.values()) chart.destroy();
      charts.clear();
      main.replaceChildren();
      for (const spec of specs) {
        const box = document.createElement("div");
        box.className = "chart";
        box.dataset.chart = spec.id;
        main.appendChild(box);
        charts.set(spec.id, makeChart(spec, box));
      }
      chartsKey = key;
    } else {
      for (const spec of specs) charts.get(spec.id).setData(alignSeries(spec.lines));
    }
  }
  function el(tag, className, text) {
    const node = document.createElement(tag);
    node.className = className;
    node.textContent = text;
    return node;
  }
  function button(label, action, runId) {
    const node = el("button", "action", label);
    node.addEventListener("click", () => vscode.postMessage({ type: "action", action, runId }));
    return node;
  }
  function renderHeader() {
    const header = document.getElementById("header");
    header.replaceChildren();
    for (const view of runs) {
      const h = runHeader(view.series);
      const row = el("div", "run", "");
      row.dataset.run = view.run.id;
      row.append(el("span", `status status-${h.status}`, h.status), el("span", "name", view.run.label));
      const total = h.totalSteps ?? "?";
      row.append(el("span", "metric", `step ${h.step}/${total}`), el("span", "metric", `elapsed ${formatDuration(h.elapsedS)}`));
      if (h.status === "running") row.append(el("span", "metric", `ETA ${formatDuration(h.etaS)}`));
      if (h.finalLoss !== null) row.append(el("span", "metric", `loss ${h.finalLoss.toFixed(4)}`));
      if (view.series.last) row.append(el("span", "metric", `peak ${formatGiB(view.series.last.peak_allocated_bytes)} / est. ${formatGiB(view.series.start?.estimate_peak_bytes)}`));
      if (view.malformed) row.append(el("span", "metric warn", `${view.malformed} malformed line${view.malformed > 1 ? "s" : ""} skipped`));
      const st = view.run.settings;
      const settings = [
        st.method,
        st.model,
        st.precision,
        st.learningRate !== void 0 ? `lr ${st.learningRate}` : void 0,
        st.rank !== void 0 ? `r ${st.rank}` : void 0,
        st.alpha !== void 0 ? `\u03B1 ${st.alpha}` : void 0,
        st.effectiveBatch !== void 0 ? `batch ${st.effectiveBatch}` : void 0,
        st.maxLength !== void 0 ? `len ${st.maxLength}` : void 0
      ].filter(Boolean).join(" \xB7 ");
      if (settings) row.append(el("span", "settings", settings));
      if (h.status === "running" || h.status === "starting") row.append(button("Stop", "stop", view.run.id));
      if (h.status === "stopped" || h.status === "failed") row.append(button("Resume", "resume", view.run.id));
      row.append(button("Log", "openLog", view.run.id), button("Folder", "openFolder", view.run.id));
      header.appendChild(row);
    }
  }
  function renderProblem() {
    const box = document.getElementById("problem");
    const failing = runs.find((v) => v.series.error);
    if (!failing) {
      box.hidden = true;
      return;
    }
    const error = failing.series.error;
    box.hidden = false;
    box.replaceChildren(el("div", "problem-title", `${failing.run.label}: ${error.kind === "oom" ? "out of GPU memory" : `${error.kind} error`}`), el("div", "problem-message", error.message));
    if (error.advice?.length) {
      const list = document.createElement("ul");
      for (const advice of error.advice) list.appendChild(el("li", "", advice));
      box.appendChild(list);
    }
  }
  function render() {
    scheduled = false;
    renderHeader();
    renderProblem();
    renderCharts();
  }
  function schedule() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(render);
  }
  window.addEventListener("message", (message) => {
    const data = message.data;
    if (data.type === "runs") {
      runs = data.runs.map((run) => ({ run, series: createSeries(), malformed: 0 }));
      vscode.setState({ runIds: data.runs.map((r) => r.id) });
      document.title = data.runs.length === 1 ? data.runs[0].label : `Compare ${data.runs.length} runs`;
    } else if (data.type === "events") {
      const view = runs.find((v) => v.run.id === data.runId);
      if (!view) return;
      for (const event of data.events) applyEvent(view.series, event);
    } else if (data.type === "malformed") {
      const view = runs.find((v) => v.run.id === data.runId);
      if (view) view.malformed++;
    }
    schedule();
  });
  var resizeTimer;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const chart of charts.values()) chart.setSize({ width: chartWidth(), height: 220 });
    }, 100);
  });
  window.loraLensPanel = {
    charts: () => Object.fromEntries([...charts].map(([id, chart]) => [id, { series: chart.series.map((s) => s.label), data: chart.data }])),
    runs: () => runs.map((v) => ({ id: v.run.id, header: runHeader(v.series), steps: v.series.step.length, evals: v.series.evalStep.length, malformed: v.malformed }))
  };
  vscode.postMessage({ type: "ready" });
})();
