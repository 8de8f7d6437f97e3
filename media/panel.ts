/**
 * The run panel page (bundled by scripts/copy-media.mjs into media/build/panel.js). It receives trainer events from
 * the extension, folds them into series with the shared reducer, and draws them with uPlot. One run: its charts and
 * header; several runs: Compare, one line per run on each chart.
 */
import type UPlot from 'uplot';
import type { TrainerEvent } from '../extension/src/runs/events';
import type { FromPanel, PanelRun, PanelState, ToPanel } from '../extension/src/runs/panelProtocol';
import { alignSeries, applyEvent, createSeries, formatDuration, formatGiB, runHeader, type RunSeries } from '../extension/src/runs/series';

declare const uPlot: typeof UPlot;
declare function acquireVsCodeApi(): { postMessage(message: FromPanel): void; getState(): PanelState | undefined; setState(state: PanelState): void };

const vscode = acquireVsCodeApi();
const GiB = 2 ** 30;

interface RunView { run: PanelRun; series: RunSeries; malformed: number }
let runs: RunView[] = [];
const charts = new Map<string, UPlot>();
let chartsKey = '';
let scheduled = false;

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

/** VS Code's chart palette (theme-aware), with fallbacks for a page opened outside VS Code. */
function palette(): string[] {
  return [
    cssVar('--vscode-charts-blue', '#3794ff'), cssVar('--vscode-charts-orange', '#d18616'),
    cssVar('--vscode-charts-green', '#89d185'), cssVar('--vscode-charts-purple', '#b180d7'),
    cssVar('--vscode-charts-red', '#f14c4c'), cssVar('--vscode-charts-yellow', '#cca700'),
  ];
}

interface Line { label: string; x: number[]; y: (number | null)[]; color: string; dash?: number[]; width?: number; points?: boolean }
interface ChartSpec { id: string; title: string; unit: string; lines: Line[]; log?: boolean }

/** A constant line (estimate, capacity) across the steps drawn so far. */
function constant(label: string, steps: number[], value: number, color: string, dash: number[]): Line {
  const x = steps.length ? [steps[0]!, steps[steps.length - 1]!] : [];
  return { label, x, y: x.map(() => value), color, dash };
}

function singleRunCharts(view: RunView): ChartSpec[] {
  const s = view.series;
  const [blue, orange, green, purple, red, yellow] = palette() as [string, string, string, string, string, string];
  const gib = (xs: number[]) => xs.map((v) => v / GiB);
  const memory: Line[] = [
    { label: 'allocated', x: s.step, y: gib(s.allocated), color: blue },
    { label: 'reserved', x: s.step, y: gib(s.reserved), color: purple },
    { label: 'peak', x: s.step, y: gib(s.peak), color: orange },
  ];
  const estimate = s.start?.estimate_peak_bytes;
  if (typeof estimate === 'number') memory.push(constant('estimated peak', s.step, estimate / GiB, yellow, [6, 4]));
  const capacity = s.start?.gpu?.memory_bytes;
  if (typeof capacity === 'number') memory.push(constant('GPU capacity', s.step, capacity / GiB, red, [2, 3]));
  return [
    { id: 'loss', title: 'Loss', unit: '', lines: [
      { label: 'train', x: s.step, y: s.loss, color: blue, width: 1 },
      { label: 'train (smoothed)', x: s.step, y: s.lossSmooth, color: green, width: 2 },
      { label: 'eval', x: s.evalStep, y: s.evalLoss, color: orange, width: 2, points: true },
    ] },
    { id: 'lr', title: 'Learning rate', unit: '', lines: [{ label: 'learning rate', x: s.step, y: s.learningRate, color: purple }] },
    { id: 'grad', title: 'Gradient norm', unit: '', lines: [{ label: 'grad norm', x: s.step, y: s.gradNorm, color: red }] },
    { id: 'tps', title: 'Throughput', unit: 'tokens/s', lines: [{ label: 'tokens/s', x: s.step, y: s.tokensPerSecond, color: green }] },
    { id: 'memory', title: 'GPU memory', unit: 'GiB', lines: memory },
  ];
}

function compareCharts(views: RunView[]): ChartSpec[] {
  const colors = palette();
  const per = (pick: (s: RunSeries) => { x: number[]; y: (number | null)[] }, suffix = '', dash?: number[]) =>
    views.map((v, i) => ({ label: `${v.run.label}${suffix}`, ...pick(v.series), color: colors[i % colors.length]!, dash }));
  return [
    { id: 'loss', title: 'Loss (smoothed train, dashed eval)', unit: '', lines: [
      ...per((s) => ({ x: s.step, y: s.lossSmooth })),
      ...per((s) => ({ x: s.evalStep, y: s.evalLoss }), ' eval', [6, 4]).map((l) => ({ ...l, points: true })),
    ] },
    { id: 'lr', title: 'Learning rate', unit: '', lines: per((s) => ({ x: s.step, y: s.learningRate })) },
    { id: 'grad', title: 'Gradient norm', unit: '', lines: per((s) => ({ x: s.step, y: s.gradNorm })) },
    { id: 'tps', title: 'Throughput', unit: 'tokens/s', lines: per((s) => ({ x: s.step, y: s.tokensPerSecond })) },
    { id: 'memory', title: 'Peak GPU memory (dashed: estimate)', unit: 'GiB', lines: [
      ...per((s) => ({ x: s.step, y: s.peak.map((v) => v / GiB) })),
      ...views.flatMap((v, i) => typeof v.series.start?.estimate_peak_bytes === 'number'
        ? [constant(`${v.run.label} estimate`, v.series.step, v.series.start.estimate_peak_bytes / GiB, colors[i % colors.length]!, [6, 4])] : []),
    ] },
  ];
}

function chartWidth(): number {
  const main = document.getElementById('charts')!;
  const columns = main.clientWidth >= 900 ? 2 : 1;
  return Math.max(280, Math.floor(main.clientWidth / columns) - 24);
}

/** Axis ticks: learning rates (1e-4) need exponents, throughput needs thousands separators. */
function formatTick(value: number): string {
  const abs = Math.abs(value);
  if (abs === 0) return '0';
  if (abs < 0.01) return value.toExponential(1);
  return abs >= 1000 ? Math.round(value).toLocaleString('en-US') : String(Number(value.toPrecision(3)));
}

function makeChart(spec: ChartSpec, container: HTMLElement): UPlot {
  const fg = cssVar('--vscode-foreground', '#cccccc');
  const grid = cssVar('--vscode-editorWidget-border', 'rgba(128,128,128,0.25)');
  const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  const opts: UPlot.Options = {
    title: spec.title + (spec.unit ? ` (${spec.unit})` : ''),
    width: chartWidth(),
    height: 220,
    scales: { x: { time: false }, y: spec.log ? { distr: 3 } : {} },
    axes: [{ ...axis, label: 'step' }, { ...axis, size: 64, values: (_u: UPlot, ticks: number[]) => ticks.map(formatTick) }],
    legend: { live: true },
    series: [
      { label: 'step' },
      ...spec.lines.map((l) => ({ label: l.label, stroke: l.color, width: l.width ?? 1.5, dash: l.dash, spanGaps: true, points: { show: l.points ?? false } })),
    ],
  };
  return new uPlot(opts, alignSeries(spec.lines) as UPlot.AlignedData, container);
}

function renderCharts(): void {
  const specs = runs.length === 1 ? singleRunCharts(runs[0]!) : compareCharts(runs);
  const key = specs.map((s) => `${s.id}:${s.lines.map((l) => l.label).join(',')}`).join('|');
  const main = document.getElementById('charts')!;
  if (key !== chartsKey) {
    for (const chart of charts.values()) chart.destroy();
    charts.clear();
    main.replaceChildren();
    for (const spec of specs) {
      const box = document.createElement('div');
      box.className = 'chart';
      box.dataset.chart = spec.id;
      main.appendChild(box);
      charts.set(spec.id, makeChart(spec, box));
    }
    chartsKey = key;
  } else {
    for (const spec of specs) charts.get(spec.id)!.setData(alignSeries(spec.lines) as UPlot.AlignedData);
  }
}

function el(tag: string, className: string, text: string): HTMLElement {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
}

function button(label: string, action: 'stop' | 'resume' | 'openLog' | 'openFolder', runId: string): HTMLElement {
  const node = el('button', 'action', label);
  node.addEventListener('click', () => vscode.postMessage({ type: 'action', action, runId }));
  return node;
}

function renderHeader(): void {
  const header = document.getElementById('header')!;
  header.replaceChildren();
  for (const view of runs) {
    const h = runHeader(view.series);
    const row = el('div', 'run', '');
    row.dataset.run = view.run.id;
    row.append(el('span', `status status-${h.status}`, h.status), el('span', 'name', view.run.label));
    const total = h.totalSteps ?? '?';
    row.append(el('span', 'metric', `step ${h.step}/${total}`), el('span', 'metric', `elapsed ${formatDuration(h.elapsedS)}`));
    if (h.status === 'running') row.append(el('span', 'metric', `ETA ${formatDuration(h.etaS)}`));
    if (h.finalLoss !== null) row.append(el('span', 'metric', `loss ${h.finalLoss.toFixed(4)}`));
    if (view.series.last) row.append(el('span', 'metric', `peak ${formatGiB(view.series.last.peak_allocated_bytes)} / est. ${formatGiB(view.series.start?.estimate_peak_bytes)}`));
    if (view.malformed) row.append(el('span', 'metric warn', `${view.malformed} malformed line${view.malformed > 1 ? 's' : ''} skipped`));
    const st = view.run.settings;
    const settings = [
      st.method, st.model, st.precision,
      st.learningRate !== undefined ? `lr ${st.learningRate}` : undefined,
      st.rank !== undefined ? `r ${st.rank}` : undefined, st.alpha !== undefined ? `α ${st.alpha}` : undefined,
      st.effectiveBatch !== undefined ? `batch ${st.effectiveBatch}` : undefined, st.maxLength !== undefined ? `len ${st.maxLength}` : undefined,
    ].filter(Boolean).join(' · ');
    if (settings) row.append(el('span', 'settings', settings));
    if (h.status === 'running' || h.status === 'starting') row.append(button('Stop', 'stop', view.run.id));
    if (h.status === 'stopped' || h.status === 'failed') row.append(button('Resume', 'resume', view.run.id));
    row.append(button('Log', 'openLog', view.run.id), button('Folder', 'openFolder', view.run.id));
    header.appendChild(row);
  }
}

function renderProblem(): void {
  const box = document.getElementById('problem')!;
  const failing = runs.find((v) => v.series.error);
  if (!failing) { box.hidden = true; return; }
  const error = failing.series.error!;
  box.hidden = false;
  box.replaceChildren(el('div', 'problem-title', `${failing.run.label}: ${error.kind === 'oom' ? 'out of GPU memory' : `${error.kind} error`}`), el('div', 'problem-message', error.message));
  if (error.advice?.length) {
    const list = document.createElement('ul');
    for (const advice of error.advice) list.appendChild(el('li', '', advice));
    box.appendChild(list);
  }
}

function render(): void {
  scheduled = false;
  renderHeader();
  renderProblem();
  renderCharts();
}

/** Coalesces bursts of events into one redraw per frame (a finished run arrives as one batch of thousands). */
function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(render);
}

window.addEventListener('message', (message: MessageEvent<ToPanel>) => {
  const data = message.data;
  if (data.type === 'runs') {
    runs = data.runs.map((run) => ({ run, series: createSeries(), malformed: 0 }));
    vscode.setState({ runIds: data.runs.map((r) => r.id) });
    document.title = data.runs.length === 1 ? data.runs[0]!.label : `Compare ${data.runs.length} runs`;
  } else if (data.type === 'events') {
    const view = runs.find((v) => v.run.id === data.runId);
    if (!view) return;
    for (const event of data.events as TrainerEvent[]) applyEvent(view.series, event);
  } else if (data.type === 'malformed') {
    const view = runs.find((v) => v.run.id === data.runId);
    if (view) view.malformed++;
  }
  schedule();
});

let resizeTimer: ReturnType<typeof setTimeout> | undefined;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => { for (const chart of charts.values()) chart.setSize({ width: chartWidth(), height: 220 }); }, 100);
});

/** For tests and debugging: what is drawn (uPlot's data arrays) and the reduced series. */
(window as unknown as { loraLensPanel: unknown }).loraLensPanel = {
  charts: () => Object.fromEntries([...charts].map(([id, chart]) => [id, { series: chart.series.map((s) => s.label), data: chart.data }])),
  runs: () => runs.map((v) => ({ id: v.run.id, header: runHeader(v.series), steps: v.series.step.length, evals: v.series.evalStep.length, malformed: v.malformed })),
};

vscode.postMessage({ type: 'ready' });
