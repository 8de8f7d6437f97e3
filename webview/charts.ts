/**
 * The run panel's charts (bundled into media/build/panel.js with panel.ts): what each chart shows, and uPlot charts
 * that follow VS Code's theme (colours read from its CSS variables each time a chart is built), share one cursor
 * across charts with the values at the cursor, and draw the GPU capacity as a marked line outside the scale.
 */
import type UPlot from 'uplot';
import {
  alignSeries,
  formatBytes,
  hasRewards,
  formatTicks,
  memoryRange,
  smoothEma,
  STEP_INCREMENTS,
  type RunSeries,
} from '../extension/src/runs/series';

declare const uPlot: typeof UPlot;

const GiB = 2 ** 30;
const HEIGHT = 220;
/** One cursor for every chart of the page (uPlot syncs charts that share a key, by the step under the cursor). */
const SYNC_KEY = 'lora-lens-steps';

export interface Line {
  label: string;
  x: number[];
  y: (number | null)[];
  color: string;
  dash?: number[];
  width?: number;
  points?: boolean;
}
/** A horizontal line drawn over the plot without taking part in the scale (the GPU's capacity). */
export interface Marker {
  label: string;
  value: number;
  color: string;
}
export interface ChartSpec {
  id: string;
  title: string;
  unit: string;
  lines: Line[];
  log?: boolean;
  /** The y range from what the lines hold only, starting at 0 (memory). */
  fromZero?: boolean;
  markers?: Marker[];
  /** Vertical marks at a step (where a run resumed from its checkpoint). */
  stepMarkers?: Marker[];
  /** A value at the cursor, as the tooltip shows it. */
  format: (v: number) => string;
}

export interface RunView {
  run: { id: string; label: string };
  series: RunSeries;
}
export interface ChartOptions {
  smoothing: number;
  logLoss: boolean;
}

export function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

/** VS Code's chart palette for the current theme, with fallbacks for a page opened outside VS Code. */
export function palette(): string[] {
  return [
    cssVar('--vscode-charts-blue', '#3794ff'),
    cssVar('--vscode-charts-orange', '#d18616'),
    cssVar('--vscode-charts-green', '#89d185'),
    cssVar('--vscode-charts-purple', '#b180d7'),
    cssVar('--vscode-charts-red', '#f14c4c'),
    cssVar('--vscode-charts-yellow', '#cca700'),
  ];
}

/** The axis and grid colours of the current theme. */
export function axisColors(): { text: string; grid: string } {
  return {
    text: cssVar('--vscode-descriptionForeground', cssVar('--vscode-foreground', '#cccccc')),
    grid: cssVar('--vscode-editorWidget-border', 'rgba(128,128,128,0.25)'),
  };
}

/** A constant (estimate) at every step drawn, so the cursor finds its value anywhere. */
function constant(label: string, steps: number[], value: number, color: string, dash: number[]): Line {
  return { label, x: steps, y: steps.map(() => value), color, dash };
}

const plain = (v: number) => formatTicks([v])[0]!;
const precise = (v: number) =>
  Math.abs(v) < 0.01 && v !== 0 ? v.toExponential(2) : Number(v.toPrecision(4)).toLocaleString('en-US');
const gib = (v: number) => formatBytes(v * GiB);

/** "resumed at step 40" marks, in `color`, on every chart of a run that was resumed. */
function withResumeMarks(specs: ChartSpec[], marks: Marker[]): ChartSpec[] {
  return marks.length
    ? specs.map((spec) => ({ ...spec, stepMarkers: [...(spec.stepMarkers ?? []), ...marks] }))
    : specs;
}

const resumeMarks = (view: RunView, color: string, prefix = ''): Marker[] =>
  view.series.resumes.map((step) => ({ label: `${prefix}resumed at step ${step}`, value: step, color }));

export function singleRunCharts(view: RunView, o: ChartOptions): ChartSpec[] {
  return withResumeMarks(singleRunSpecs(view, o), resumeMarks(view, axisColors().text));
}

function singleRunSpecs(view: RunView, o: ChartOptions): ChartSpec[] {
  const s = view.series;
  const [blue, orange, green, purple, red, yellow] = palette() as [string, string, string, string, string, string];
  const inGiB = (xs: (number | null)[]) => xs.map((v) => (v === null ? null : v / GiB));
  const memory: Line[] = [
    { label: 'allocated', x: s.step, y: inGiB(s.allocated), color: blue },
    { label: 'reserved', x: s.step, y: inGiB(s.reserved), color: purple },
    { label: 'peak', x: s.step, y: inGiB(s.peak), color: orange },
  ];
  const estimate = s.start?.estimate_peak_bytes;
  if (typeof estimate === 'number') memory.push(constant('estimated peak', s.step, estimate / GiB, yellow, [6, 4]));
  const capacity = s.start?.gpu?.memory_bytes;
  const predictedTps = s.start?.estimate_tokens_per_second;
  return [
    {
      id: 'loss',
      title: 'Loss',
      unit: '',
      log: o.logLoss,
      format: precise,
      lines: [
        { label: 'train', x: s.step, y: s.loss, color: blue, width: 1 },
        { label: 'train (smoothed)', x: s.step, y: smoothEma(s.loss, o.smoothing), color: green, width: 2 },
        { label: 'eval', x: s.evalStep, y: s.evalLoss, color: orange, width: 2, points: true },
      ],
    },
    ...(hasRewards(s) ? rewardCharts(s, o) : []),
    {
      id: 'lr',
      title: 'Learning rate',
      unit: '',
      format: precise,
      lines: [{ label: 'learning rate', x: s.step, y: s.learningRate, color: purple }],
    },
    {
      id: 'grad',
      title: 'Gradient norm',
      unit: '',
      format: precise,
      lines: [{ label: 'grad norm', x: s.step, y: s.gradNorm, color: red }],
    },
    {
      id: 'tps',
      title: 'Throughput',
      unit: 'tokens/s',
      format: plain,
      lines: [
        { label: 'tokens/s', x: s.step, y: s.tokensPerSecond, color: green },
        ...(typeof predictedTps === 'number' ? [constant('predicted', s.step, predictedTps, yellow, [6, 4])] : []),
      ],
    },
    {
      id: 'memory',
      title: 'GPU memory',
      unit: 'GiB',
      fromZero: true,
      format: gib,
      lines: memory,
      markers: typeof capacity === 'number' ? [{ label: 'GPU capacity', value: capacity / GiB, color: red }] : [],
    },
  ];
}

/**
 * Preference runs (DPO, ORPO, SimPO): the reward margin (chosen minus rejected reward, TRL's rewards/margins) and the
 * share of pairs ranked right (rewards/accuracies), train and eval, next to the loss.
 */
function rewardCharts(s: RunSeries, o: ChartOptions): ChartSpec[] {
  const [blue, orange, green] = palette() as [string, string, string];
  const percent = (xs: (number | null)[]) => xs.map((v) => (v === null ? null : v * 100));
  return [
    {
      id: 'margin',
      title: 'Reward margin',
      unit: '',
      format: precise,
      lines: [
        { label: 'train', x: s.step, y: s.rewardMargin, color: blue, width: 1 },
        { label: 'train (smoothed)', x: s.step, y: smoothEma(s.rewardMargin, o.smoothing), color: green, width: 2 },
        { label: 'eval', x: s.evalStep, y: s.evalRewardMargin, color: orange, width: 2, points: true },
      ],
    },
    {
      id: 'accuracy',
      title: 'Reward accuracy',
      unit: '%',
      format: (v) => `${v.toFixed(0)}%`,
      lines: [
        { label: 'train', x: s.step, y: percent(s.rewardAccuracy), color: blue, width: 1 },
        {
          label: 'train (smoothed)',
          x: s.step,
          y: percent(smoothEma(s.rewardAccuracy, o.smoothing)),
          color: green,
          width: 2,
        },
        { label: 'eval', x: s.evalStep, y: percent(s.evalRewardAccuracy), color: orange, width: 2, points: true },
      ],
    },
  ];
}

/** Compare: one line per run on each chart, named by its short legend (what differs: "r=16" against "r=64"). */
export function compareCharts(views: RunView[], o: ChartOptions): ChartSpec[] {
  const colors = palette();
  const marks = views.flatMap((v, i) => resumeMarks(v, colors[i % colors.length]!, `${v.run.label}: `));
  return withResumeMarks(compareSpecs(views, o, colors), marks);
}

function compareSpecs(views: RunView[], o: ChartOptions, colors: string[]): ChartSpec[] {
  const per = (pick: (s: RunSeries) => { x: number[]; y: (number | null)[] }, suffix = '', dash?: number[]) =>
    views.map((v, i) => ({
      label: `${v.run.label}${suffix}`,
      ...pick(v.series),
      color: colors[i % colors.length]!,
      dash,
    }));
  return [
    {
      id: 'loss',
      title: 'Loss (smoothed train, dashed eval)',
      unit: '',
      log: o.logLoss,
      format: precise,
      lines: [
        ...per((s) => ({ x: s.step, y: smoothEma(s.loss, o.smoothing) })),
        ...per((s) => ({ x: s.evalStep, y: s.evalLoss }), ' eval', [6, 4]).map((l) => ({ ...l, points: true })),
      ],
    },
    {
      id: 'lr',
      title: 'Learning rate',
      unit: '',
      format: precise,
      lines: per((s) => ({ x: s.step, y: s.learningRate })),
    },
    {
      id: 'grad',
      title: 'Gradient norm',
      unit: '',
      format: precise,
      lines: per((s) => ({ x: s.step, y: s.gradNorm })),
    },
    {
      id: 'tps',
      title: 'Throughput',
      unit: 'tokens/s',
      format: plain,
      lines: per((s) => ({ x: s.step, y: s.tokensPerSecond })),
    },
    {
      id: 'memory',
      title: 'Peak GPU memory (dashed: estimate)',
      unit: 'GiB',
      fromZero: true,
      format: gib,
      lines: [
        ...per((s) => ({ x: s.step, y: s.peak.map((v) => (v === null ? null : v / GiB)) })),
        ...views.flatMap((v, i) =>
          typeof v.series.start?.estimate_peak_bytes === 'number'
            ? [
                constant(
                  `${v.run.label} estimate`,
                  v.series.step,
                  v.series.start.estimate_peak_bytes / GiB,
                  colors[i % colors.length]!,
                  [6, 4],
                ),
              ]
            : [],
        ),
      ],
    },
  ];
}

/** The values at the cursor, in a box that follows it inside the plot (uPlot's legend below is hidden). */
function tooltipPlugin(spec: () => ChartSpec): UPlot.Plugin {
  let box: HTMLDivElement;
  return {
    hooks: {
      init: (u) => {
        box = document.createElement('div');
        box.className = 'chart-tooltip';
        box.hidden = true;
        u.over.appendChild(box);
      },
      setCursor: (u) => {
        const idx = u.cursor.idx;
        const left = u.cursor.left ?? -1;
        if (idx === null || idx === undefined || left < 0) {
          box.hidden = true;
          return;
        }
        const s = spec();
        const rows: HTMLElement[] = [];
        const head = document.createElement('div');
        head.className = 'tt-step';
        head.textContent = `step ${u.data[0][idx]}`;
        rows.push(head);
        s.lines.forEach((line, i) => {
          const v = u.data[i + 1]?.[idx];
          if (v === null || v === undefined) return;
          rows.push(tooltipRow(line.label, s.format(v), line.color));
        });
        for (const m of s.markers ?? []) rows.push(tooltipRow(m.label, s.format(m.value), m.color));
        box.replaceChildren(...rows);
        box.hidden = false;
        const width = u.over.clientWidth;
        const onRight = left < width / 2;
        box.style.left = onRight ? `${left + 12}px` : '';
        box.style.right = onRight ? '' : `${width - left + 12}px`;
      },
    },
  };
}

function tooltipRow(label: string, value: string, color: string): HTMLElement {
  const row = document.createElement('div');
  row.className = 'tt-row';
  const swatch = document.createElement('span');
  swatch.className = 'swatch';
  swatch.style.background = color;
  const name = document.createElement('span');
  name.className = 'tt-label';
  name.textContent = label;
  const val = document.createElement('span');
  val.className = 'tt-value';
  val.textContent = value;
  row.append(swatch, name, val);
  return row;
}

/** Marked lines (capacity) drawn over the plot; off the top of the scale, a label at the top edge says where it is. */
function markerPlugin(spec: () => ChartSpec): UPlot.Plugin {
  return {
    hooks: {
      draw: (u) => {
        drawStepMarkers(u, spec().stepMarkers ?? []);
        const markers = spec().markers ?? [];
        if (!markers.length) return;
        const { ctx, bbox } = u;
        const ratio = devicePixelRatio || 1;
        ctx.save();
        ctx.font = `${11 * ratio}px ${cssVar('--vscode-font-family', 'sans-serif')}`;
        ctx.textAlign = 'right';
        for (const m of markers) {
          const top = u.scales.y?.max ?? 0;
          const onScale = m.value <= top;
          const y = onScale ? u.valToPos(m.value, 'y', true) : bbox.top;
          ctx.strokeStyle = m.color;
          ctx.fillStyle = m.color;
          ctx.lineWidth = ratio;
          ctx.setLineDash(onScale ? [2 * ratio, 3 * ratio] : []);
          if (onScale) {
            ctx.beginPath();
            ctx.moveTo(bbox.left, y);
            ctx.lineTo(bbox.left + bbox.width, y);
            ctx.stroke();
          }
          ctx.fillText(
            `${m.label} ${gib(m.value)}${onScale ? '' : ' ↑'}`,
            bbox.left + bbox.width - 4 * ratio,
            y + (onScale ? -4 : 12) * ratio,
          );
        }
        ctx.restore();
      },
    },
  };
}

/** Vertical dashed lines at a step with their label at the top (a resume: the steps after it were trained again). */
function drawStepMarkers(u: UPlot, markers: Marker[]): void {
  if (!markers.length) return;
  const { ctx, bbox } = u;
  const ratio = devicePixelRatio || 1;
  ctx.save();
  ctx.font = `${11 * ratio}px ${cssVar('--vscode-font-family', 'sans-serif')}`;
  ctx.textAlign = 'left';
  ctx.lineWidth = ratio;
  ctx.setLineDash([4 * ratio, 3 * ratio]);
  for (const m of markers) {
    const x = u.valToPos(m.value, 'x', true);
    if (!(x >= bbox.left && x <= bbox.left + bbox.width)) continue;
    ctx.strokeStyle = m.color;
    ctx.fillStyle = m.color;
    ctx.beginPath();
    ctx.moveTo(x, bbox.top);
    ctx.lineTo(x, bbox.top + bbox.height);
    ctx.stroke();
    ctx.fillText('resumed', x + 3 * ratio, bbox.top + 12 * ratio);
  }
  ctx.restore();
}

/** A uPlot chart for `spec`, in the theme's colours of the moment; `current` returns the latest spec (data change). */
export function makeChart(spec: ChartSpec, width: number, container: HTMLElement, current: () => ChartSpec): UPlot {
  const colors = axisColors();
  const axis = {
    stroke: colors.text,
    grid: { stroke: colors.grid, width: 1 },
    ticks: { stroke: colors.grid, width: 1 },
  };
  const y: UPlot.Scale = spec.log
    ? { distr: 3 }
    : spec.fromZero
      ? { range: (_u, _min, max) => memoryRange([max]) }
      : {};
  const opts: UPlot.Options = {
    title: spec.title + (spec.unit ? ` (${spec.unit})` : ''),
    width,
    height: HEIGHT,
    scales: { x: { time: false, range: (_u, min, max) => (min === max ? [min - 1, max + 1] : [min, max]) }, y },
    axes: [
      {
        ...axis,
        label: 'step',
        incrs: STEP_INCREMENTS,
        values: (_u, ticks) => ticks.map((t) => (Number.isInteger(t) ? t.toLocaleString('en-US') : '')),
      },
      { ...axis, size: 64, values: (_u, ticks) => formatTicks(ticks) },
    ],
    legend: { show: false },
    cursor: { y: false, sync: { key: SYNC_KEY, setSeries: false }, drag: { x: false, y: false } },
    plugins: [tooltipPlugin(current), markerPlugin(current)],
    series: [
      { label: 'step' },
      ...spec.lines.map((l) => ({
        label: l.label,
        stroke: l.color,
        width: l.width ?? 1.5,
        dash: l.dash,
        spanGaps: true,
        points: { show: l.points ?? false },
      })),
    ],
  };
  return new uPlot(opts, alignLines(spec.lines), container);
}

/** A static legend (names and colours only: no "--" placeholders, nothing that shifts as values arrive). */
export function legendFor(spec: ChartSpec): HTMLElement {
  const legend = document.createElement('div');
  legend.className = 'chart-legend';
  const item = (label: string, color: string, dashed: boolean) => {
    const node = document.createElement('span');
    node.className = 'legend-item';
    const swatch = document.createElement('span');
    swatch.className = dashed ? 'swatch dashed' : 'swatch';
    swatch.style.borderColor = color;
    if (!dashed) swatch.style.background = color;
    node.append(swatch, document.createTextNode(label));
    return node;
  };
  for (const l of spec.lines) legend.appendChild(item(l.label, l.color, Boolean(l.dash)));
  for (const m of spec.markers ?? []) legend.appendChild(item(`${m.label} (${gib(m.value)})`, m.color, true));
  for (const m of spec.stepMarkers ?? []) legend.appendChild(item(m.label, m.color, true));
  return legend;
}

export const alignLines = (lines: Line[]) => alignSeries(lines) as UPlot.AlignedData;
