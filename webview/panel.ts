/**
 * The run panel page (bundled by scripts/copy-media.mjs into media/build/panel.js). It receives trainer events from
 * the extension, folds them into series with the shared reducer, and draws them with uPlot (charts.ts). One run: its
 * charts and header; several runs: Compare, one line per run on each chart. The charts are built again when VS Code
 * switches theme (it toggles vscode-light / vscode-dark / vscode-high-contrast on body and rewrites the variables).
 */
import type UPlot from 'uplot';
import type { TrainerEvent } from '../extension/src/runs/events';
import type { FromPanel, PanelAction, PanelRun, PanelState, ToPanel } from '../extension/src/runs/panelProtocol';
import type { EvaluationView } from '../extension/src/runs/panelProtocol';
import { renderCompareEvaluation, renderRunEvaluation } from './evaluation';
import {
  applyEvent,
  createSeries,
  formatBytes,
  formatDuration,
  rankMemoryText,
  runHeader,
  SMOOTHING,
  speedPrediction,
  type RunSeries,
} from '../extension/src/runs/series';
import { settingsDiffTable, shortLegends } from '../extension/src/runs/runLabels';
import {
  alignLines,
  axisColors,
  compareCharts,
  legendFor,
  makeChart,
  palette,
  singleRunCharts,
  type ChartOptions,
  type ChartSpec,
} from './charts';

declare function acquireVsCodeApi(): {
  postMessage(message: FromPanel): void;
  getState(): PanelState | undefined;
  setState(state: PanelState): void;
};

const vscode = acquireVsCodeApi();

interface RunView {
  run: PanelRun;
  series: RunSeries;
  malformed: number;
  /** Its eval/ folder read back; null when it has none, undefined before the extension said. */
  evaluation?: EvaluationView | null;
}
/** The Evaluation section's filter: only the examples that got worse. */
let onlyWorse = false;
let runs: RunView[] = [];
const charts = new Map<string, UPlot>();
const specs = new Map<string, ChartSpec>();
/** What the charts were built with: their series, the options that need a rebuild, and the theme. */
let chartsKey = '';
let scheduled = false;
const saved = vscode.getState();
const options: ChartOptions = { smoothing: saved?.smoothing ?? SMOOTHING, logLoss: saved?.logLoss ?? false };
let runIds: string[] = saved?.runIds ?? [];

/** Identifies the theme: the body's theme class and the colours the charts take from it. */
function themeKey(): string {
  return [document.body.className, axisColors().text, axisColors().grid, ...palette()].join(' ');
}

function chartWidth(): number {
  const main = document.getElementById('charts')!;
  const columns = main.clientWidth >= 900 ? 2 : 1;
  return Math.max(280, Math.floor(main.clientWidth / columns) - 24);
}

/** Compare's legends, one per run (what differs between them: "r=16" against "r=64"); a single run keeps its label. */
function legends(): string[] {
  if (runs.length < 2) return runs.map((v) => v.run.label);
  return shortLegends(
    runs.map((v) => ({ id: v.run.id, name: v.run.name ?? v.run.label, when: v.run.when, settings: v.run.settings })),
  );
}

function renderCharts(): void {
  const names = legends();
  const views = runs.map((v, i) => ({ ...v, run: { ...v.run, label: names[i]! } }));
  const list = runs.length === 1 ? singleRunCharts(runs[0]!, options) : compareCharts(views, options);
  const marks = (ms: { value: number }[] | undefined) => (ms ?? []).map((m) => m.value).join(',');
  const key = [
    themeKey(),
    options.logLoss,
    ...list.map((s) => `${s.id}:${s.lines.map((l) => l.label).join(',')}:${marks(s.markers)}:${marks(s.stepMarkers)}`),
  ].join('|');
  for (const spec of list) specs.set(spec.id, spec);
  const main = document.getElementById('charts')!;
  if (key !== chartsKey) {
    for (const chart of charts.values()) chart.destroy();
    charts.clear();
    main.replaceChildren();
    for (const spec of list) {
      const box = document.createElement('div');
      box.className = 'chart';
      box.dataset.chart = spec.id;
      // The box is as wide as its chart: a long legend (Compare) wraps under it instead of widening it past the page.
      box.style.width = `${chartWidth()}px`;
      main.appendChild(box);
      charts.set(
        spec.id,
        makeChart(spec, chartWidth(), box, () => specs.get(spec.id)!),
      );
      box.appendChild(legendFor(spec));
    }
    chartsKey = key;
  } else {
    for (const spec of list) charts.get(spec.id)!.setData(alignLines(spec.lines));
  }
}

function el(tag: string, className: string, text: string): HTMLElement {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
}

function button(label: string, action: PanelAction, runId: string): HTMLElement {
  const node = el('button', 'action', label);
  node.addEventListener('click', () => vscode.postMessage({ type: 'action', action, runId }));
  return node;
}

/** The run's buttons in the header: what its status and its trainer allow. */
function actionButtons(view: RunView, status: ReturnType<typeof runHeader>['status']): HTMLElement[] {
  const id = view.run.id;
  const buttons: HTMLElement[] = [];
  if (status === 'running' || status === 'starting') buttons.push(button('Stop', 'stop', id));
  // The user's own tool (axolotl, LLaMA-Factory) keeps its checkpoints its own way: no Resume for its runs.
  const ownTrainer = (view.series.start?.tool ?? 'lora-lens') === 'lora-lens';
  if ((status === 'stopped' || status === 'failed') && ownTrainer) buttons.push(button('Resume', 'resume', id));
  // Evaluate: a finished run of the bundled trainer has its adapter (or model) in the run folder.
  if ((status === 'completed' || status === 'stopped') && ownTrainer)
    buttons.push(button(view.evaluation ? 'Evaluate again' : 'Evaluate', 'evaluate', id));
  // Export…: the run as a GGUF or a merged folder (the same export as lora-lens export).
  if (status === 'completed' && ownTrainer) buttons.push(button('Export…', 'export', id));
  buttons.push(button('Log', 'openLog', id), button('Folder', 'openFolder', id));
  return buttons;
}

function renderHeader(): void {
  const header = document.getElementById('header')!;
  header.replaceChildren();
  const names = legends();
  const colors = palette();
  runs.forEach((view, i) => {
    const h = runHeader(view.series);
    const row = el('div', 'run', '');
    row.dataset.run = view.run.id;
    const state = h.downloading ? 'downloading' : h.loading ? 'loading' : h.status;
    row.append(el('span', `status status-${state}`, h.loading ?? state));
    if (h.downloading) row.append(el('span', 'metric download', h.downloading));
    if (h.loadingDetail) row.append(el('span', 'metric loading', h.loadingDetail));
    if (runs.length > 1) {
      // Compare: the run's colour and legend first, its full name after (the legend says what differs).
      const swatch = el('span', 'swatch', '');
      swatch.style.background = colors[i % colors.length]!;
      row.append(swatch, el('span', 'name', names[i]!), el('span', 'muted', view.run.label));
    } else row.append(el('span', 'name', view.run.label));
    const total = h.totalSteps ?? '?';
    row.append(
      el('span', 'metric', `step ${h.step}/${total}`),
      el('span', 'metric', `elapsed ${formatDuration(h.elapsedS)}`),
    );
    const prediction = speedPrediction(view.series);
    if (h.status === 'running') {
      row.append(
        el(
          'span',
          'metric eta',
          `ETA ${formatDuration(h.etaS)}${prediction && prediction.predictedEtaS !== null ? ` (predicted ${formatDuration(prediction.predictedEtaS)})` : ''}`,
        ),
      );
    }
    if (prediction && prediction.actualTokensPerSecond !== null) {
      const n = (x: number) => Math.round(x).toLocaleString('en-US');
      row.append(
        el(
          'span',
          'metric speed',
          `${n(prediction.actualTokensPerSecond)} tok/s (predicted ${n(prediction.predictedTokensPerSecond)})`,
        ),
      );
    }
    if (h.finalLoss !== null) row.append(el('span', 'metric', `loss ${h.finalLoss.toFixed(4)}`));
    if (view.series.last) {
      const estimate = view.series.start?.estimate_peak_bytes;
      row.append(
        el(
          'span',
          'metric',
          `peak ${formatBytes(view.series.last.peak_allocated_bytes ?? view.series.last.device_used_bytes)}${typeof estimate === 'number' ? ` / est. ${formatBytes(estimate)}` : ''}`,
        ),
      );
      const ranks = rankMemoryText(view.series.last);
      if (ranks) row.append(el('span', 'metric ranks', ranks));
    }
    if (view.malformed)
      row.append(el('span', 'metric warn', `${view.malformed} malformed line${view.malformed > 1 ? 's' : ''} skipped`));
    const st = view.run.settings;
    const settings = [
      st.method,
      st.model,
      st.precision,
      st.learningRate !== undefined ? `lr ${st.learningRate}` : undefined,
      st.rank !== undefined ? `r ${st.rank}` : undefined,
      st.alpha !== undefined ? `α ${st.alpha}` : undefined,
      st.effectiveBatch !== undefined ? `batch ${st.effectiveBatch}` : undefined,
      st.maxLength !== undefined ? `len ${st.maxLength}` : undefined,
    ]
      .filter(Boolean)
      .join(' · ');
    if (settings) row.append(el('span', 'settings', settings));
    row.append(...actionButtons(view, h.status));
    header.appendChild(row);
  });
}

/** Compare: a table of the settings that differ between the runs (a row per run), or a line saying none does. */
function renderSettingsDiff(): void {
  const box = document.getElementById('settings-diff')!;
  box.hidden = runs.length < 2;
  if (box.hidden) return;
  const table = settingsDiffTable(runs.map((v) => v.run.settings));
  if (!table.headers.length) {
    box.replaceChildren(
      el(
        'p',
        'muted',
        'These runs have the same key settings (method, model, r, alpha, lr, batch, max_length, precision).',
      ),
    );
    return;
  }
  const names = legends();
  const grid = document.createElement('table');
  const head = document.createElement('tr');
  head.append(el('th', '', 'run'), ...table.headers.map((h) => el('th', '', h)));
  grid.appendChild(head);
  table.rows.forEach((values, i) => {
    const row = document.createElement('tr');
    row.append(el('td', 'name', names[i]!), ...values.map((v) => el('td', 'metric', v)));
    grid.appendChild(row);
  });
  box.replaceChildren(el('div', 'diff-title', 'Settings that differ'), grid);
}

function renderProblem(): void {
  const box = document.getElementById('problem')!;
  const failing = runs.find((v) => v.series.error);
  if (!failing) {
    box.hidden = true;
    return;
  }
  const error = failing.series.error!;
  box.hidden = false;
  box.replaceChildren(
    el(
      'div',
      'problem-title',
      `${failing.run.label}: ${error.kind === 'oom' ? 'out of GPU memory' : `${error.kind} error`}`,
    ),
    el('div', 'problem-message', error.message),
  );
  if (error.advice?.length) {
    const list = document.createElement('ul');
    for (const advice of error.advice) list.appendChild(el('li', '', advice));
    box.appendChild(list);
  }
}

/** One run: its evaluation; Compare: every run's metrics side by side. Hidden while no run has one. */
function renderEvaluation(): void {
  const box = document.getElementById('evaluation')!;
  box.hidden = !runs.some((v) => v.evaluation);
  if (box.hidden) return;
  if (runs.length === 1)
    renderRunEvaluation(box, runs[0]!.evaluation!, onlyWorse, (value) => {
      onlyWorse = value;
      schedule();
    });
  else
    renderCompareEvaluation(
      box,
      legends(),
      runs.map((v) => v.evaluation ?? null),
    );
}

function render(): void {
  scheduled = false;
  renderHeader();
  renderSettingsDiff();
  renderProblem();
  renderCharts();
  renderEvaluation();
}

/** Coalesces bursts of events into one redraw per frame (a finished run arrives as one batch of thousands). */
function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(render);
}

function saveState(): void {
  vscode.setState({ runIds, smoothing: options.smoothing, logLoss: options.logLoss });
}

/** The smoothing slider and the log-scale switch (kept across reloads in the webview state). */
function initControls(): void {
  const slider = document.getElementById('smoothing') as HTMLInputElement;
  const shown = document.getElementById('smoothing-value')!;
  const log = document.getElementById('log-loss') as HTMLInputElement;
  slider.value = String(options.smoothing);
  shown.textContent = options.smoothing.toFixed(2);
  log.checked = options.logLoss;
  slider.addEventListener('input', () => {
    options.smoothing = Number(slider.value);
    shown.textContent = options.smoothing.toFixed(2);
    saveState();
    schedule();
  });
  log.addEventListener('change', () => {
    options.logLoss = log.checked;
    saveState();
    schedule();
  });
}

window.addEventListener('message', (message: MessageEvent<ToPanel>) => {
  const data = message.data;
  if (data.type === 'runs') {
    runs = data.runs.map((run) => ({ run, series: createSeries(), malformed: 0 }));
    runIds = data.runs.map((r) => r.id);
    saveState();
    document.title = data.runs.length === 1 ? data.runs[0]!.label : `Compare ${data.runs.length} runs`;
  } else if (data.type === 'events') {
    const view = runs.find((v) => v.run.id === data.runId);
    if (!view) return;
    for (const event of data.events as TrainerEvent[]) applyEvent(view.series, event);
  } else if (data.type === 'evaluation') {
    const view = runs.find((v) => v.run.id === data.runId);
    if (view) view.evaluation = data.evaluation;
  } else if (data.type === 'malformed') {
    const view = runs.find((v) => v.run.id === data.runId);
    if (view) view.malformed++;
  }
  schedule();
});

let resizeTimer: ReturnType<typeof setTimeout> | undefined;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    const width = chartWidth();
    for (const chart of charts.values()) {
      chart.setSize({ width, height: 220 });
      chart.root.parentElement!.style.width = `${width}px`;
    }
  }, 100);
});

// A theme change: VS Code swaps body's class and the variables on <html>; the charts are built again in the new
// colours on the next frame (uPlot keeps colours as given, so they must be re-read, not inherited).
const themeObserver = new MutationObserver(() => {
  if (runs.length && !chartsKey.startsWith(`${themeKey()}|`)) schedule();
});
themeObserver.observe(document.body, {
  attributes: true,
  attributeFilter: ['class', 'data-vscode-theme-kind', 'data-vscode-theme-id', 'style'],
});
themeObserver.observe(document.documentElement, { attributes: true, attributeFilter: ['class', 'style'] });

/** For tests and debugging: what is drawn (uPlot's data, colours, scales, cursor, tooltip) and the reduced series. */
(window as unknown as { loraLensPanel: unknown }).loraLensPanel = {
  charts: () =>
    Object.fromEntries(
      [...charts].map(([id, chart]) => {
        const spec = specs.get(id)!;
        // uPlot keeps colours as functions of (chart, index); what it draws with is what they return.
        const axis = chart.axes[0] as unknown as { stroke: unknown; grid: { stroke: unknown } };
        const resolve = (v: unknown) =>
          typeof v === 'function' ? (v as (u: UPlot, i: number) => string)(chart, 0) : v;
        return [
          id,
          {
            series: chart.series.map((s) => s.label),
            data: chart.data,
            colors: chart.series
              .slice(1)
              .map((s, i) =>
                typeof s.stroke === 'function'
                  ? (s.stroke as (u: UPlot, i: number) => unknown)(chart, i + 1)
                  : s.stroke,
              ),
            axis: { text: resolve(axis.stroke), grid: resolve(axis.grid.stroke) },
            xTicks: (chart.axes[0] as unknown as { _splits?: number[] })._splits ?? [],
            scales: { y: { min: chart.scales.y!.min, max: chart.scales.y!.max, distr: chart.scales.y!.distr } },
            markers: spec.markers ?? [],
            stepMarkers: spec.stepMarkers ?? [],
            cursor: {
              idx: chart.cursor.idx ?? null,
              step:
                chart.cursor.idx === null || chart.cursor.idx === undefined ? null : chart.data[0][chart.cursor.idx],
            },
            tooltip:
              (chart.over.querySelector('.chart-tooltip') as HTMLElement | null)?.hidden === false
                ? chart.over.querySelector('.chart-tooltip')!.textContent
                : null,
            legend: chart.root.parentElement?.querySelector('.chart-legend')?.textContent ?? null,
          },
        ];
      }),
    ),
  runs: () =>
    runs.map((v) => ({
      id: v.run.id,
      header: runHeader(v.series),
      steps: v.series.step.length,
      evals: v.series.evalStep.length,
      malformed: v.malformed,
    })),
  options: () => ({ ...options }),
};

initControls();
vscode.postMessage({ type: 'ready' });
