// The run panel page in a real headless Chromium: the HTML the extension renders (strict CSP, nonce), the bundled
// page script and uPlot, a stand-in acquireVsCodeApi, and a recorded events.jsonl fed as the extension would.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { makeNonce, renderPanelHtml } from '../../extension/src/runs/panelHtml';
import type { ToPanel } from '../../extension/src/runs/panelProtocol';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const ROOT = join(__dirname, '..', '..');
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install -y chromium)`;
const recorded = (name: string) =>
  readFileSync(join(ROOT, 'test/fixtures/runs', name), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

let browser: Browser;
let pageUrl: string;

before(async () => {
  if (skip) return;
  const built = spawnSync(process.execPath, [join(ROOT, 'scripts/copy-media.mjs')], { encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr);
  const media = (name: string) => pathToFileURL(join(ROOT, 'media', name)).href;
  const html = renderPanelHtml({
    cspSource: 'file:',
    nonce: makeNonce(),
    uplotScript: media('build/uPlot.iife.min.js'),
    uplotStyle: media('build/uPlot.min.css'),
    panelScript: media('build/panel.js'),
    panelStyle: media('panel.css'),
  });
  const dir = mkdtempSync(join(tmpdir(), 'panel-'));
  writeFileSync(join(dir, 'panel.html'), html);
  pageUrl = pathToFileURL(join(dir, 'panel.html')).href;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});
after(async () => {
  await browser?.close();
});

/** Opens the page with a stand-in acquireVsCodeApi that records what the page posts and keeps its state. */
async function openPanel(): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || /Content Security Policy/.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  // A string, not a function: tsx's helpers (__name) do not exist in the page.
  await page.addInitScript(`
    window.posted = [];
    window.acquireVsCodeApi = () => ({ postMessage: (m) => window.posted.push(m), getState: () => window.state, setState: (s) => { window.state = s; } });
  `);
  await page.goto(pageUrl);
  await page
    .waitForFunction(
      () => (window as unknown as { posted: { type: string }[] }).posted.some((m) => m.type === 'ready'),
      undefined,
      { timeout: 30_000 },
    )
    .catch((e) => {
      throw new Error(`the page did not start: ${problems.join('; ') || e}`);
    });
  return { page, problems };
}

const send = (page: Page, messages: ToPanel[]) =>
  page.evaluate((ms) => {
    for (const m of ms) window.postMessage(m, '*');
  }, messages);
type Drawn = Record<
  string,
  {
    series: string[];
    data: (number | null)[][];
    colors: string[];
    axis: { text: string; grid: string };
    scales: { y: { min: number; max: number; distr: number } };
    markers: { label: string; value: number }[];
    cursor: { idx: number | null; step: number | null };
    tooltip: string | null;
    legend: string | null;
    xTicks: number[];
  }
>;
const drawn = (page: Page) =>
  page.evaluate(() => (window as unknown as { loraLensPanel: { charts(): unknown } }).loraLensPanel.charts() as Drawn);
const column = (chart: Drawn[string], label: string) => chart.data[chart.series.indexOf(label)]!;

test(
  'a recorded run is drawn: series lengths, last values, estimate and capacity lines; then live events',
  { skip },
  async () => {
    const { page, problems } = await openPanel();
    const events = recorded('lora-80.events.jsonl');
    const upTo50 = events.filter((e) => !('step' in e) || e.step <= 50).filter((e) => e.event !== 'end');
    const rest = events.slice(upTo50.length);
    await send(page, [
      {
        type: 'runs',
        runs: [
          {
            id: 'r1',
            label: 'qwen-lora',
            settings: {
              method: 'lora',
              model: 'Qwen/Qwen2.5-0.5B-Instruct',
              learningRate: 0.0002,
              rank: 16,
              alpha: 32,
              effectiveBatch: 8,
              maxLength: 1024,
            },
          },
        ],
      },
      { type: 'events', runId: 'r1', events: upTo50 },
    ]);
    await page.waitForFunction(() => ((window as any).loraLensPanel.charts().loss?.data[0]?.length ?? 0) === 50);
    let charts = await drawn(page);
    assert.deepEqual(Object.keys(charts), ['loss', 'lr', 'grad', 'tps', 'memory']);
    const step50 = events.find((e) => e.event === 'step' && e.step === 50);
    assert.equal(column(charts.loss!, 'train').length, 50);
    assert.equal(column(charts.loss!, 'train').at(-1), step50.loss);
    assert.deepEqual(
      column(charts.loss!, 'eval').filter((v) => v !== null),
      events.filter((e) => e.event === 'eval' && e.step <= 50).map((e) => e.eval_loss),
    );
    assert.equal(column(charts.lr!, 'learning rate').at(-1), step50.learning_rate);
    assert.equal(column(charts.tps!, 'tokens/s').at(-1), step50.tokens_per_second);
    assert.ok(Math.abs(column(charts.memory!, 'peak').at(-1)! - step50.peak_allocated_bytes / 2 ** 30) < 1e-9);
    assert.ok(
      Math.abs(column(charts.memory!, 'estimated peak').at(-1)! - events[0].estimate_peak_bytes / 2 ** 30) < 1e-9,
    );
    // The capacity is a marked line, not a series: it does not set the scale.
    assert.ok(!charts.memory!.series.includes('GPU capacity'));
    assert.deepEqual(
      charts.memory!.markers.map((m) => m.label),
      ['GPU capacity'],
    );
    const header = await page.textContent('#header');
    assert.match(header!, /running/);
    assert.match(header!, /step 50\/80/);
    assert.match(header!, /ETA 27s/);
    assert.match(header!, /lora · Qwen\/Qwen2\.5-0\.5B-Instruct · lr 0\.0002 · r 16 · α 32 · batch 8 · len 1024/);
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'test-artifacts', 'panel-running.png'), fullPage: true });

    await send(page, [{ type: 'events', runId: 'r1', events: rest }]);
    // The update is drawn without a reload; its speed is not asserted here (a shared CI machine varies too much).
    await page.waitForFunction(() => (window as any).loraLensPanel.charts().loss.data[0].length === 80, undefined, {
      timeout: 10_000,
    });
    charts = await drawn(page);
    assert.equal(column(charts.loss!, 'train').at(-1), 1.0841);
    assert.match((await page.textContent('#header'))!, /completed.*step 80\/80.*loss 1\.0841/s);
    assert.ok(await page.isVisible('text=Folder'));
    await page.screenshot({ path: join(ROOT, 'test-artifacts', 'panel-completed.png'), fullPage: true });
    const state = await page.evaluate(() => (window as any).state);
    assert.deepEqual(state, { runIds: ['r1'], smoothing: 0.6, logLoss: false });
    assert.deepEqual(problems, []);
    await page.close();
  },
);

test('an OOM run shows the trainer advice; buttons post actions; malformed lines are counted', { skip }, async () => {
  const { page, problems } = await openPanel();
  await send(page, [
    { type: 'runs', runs: [{ id: 'oom', label: 'oom-run', settings: {} }] },
    { type: 'events', runId: 'oom', events: recorded('oom.events.jsonl') },
    { type: 'malformed', runId: 'oom', line: 3, reason: 'not JSON' },
  ]);
  await page.waitForSelector('#problem:not([hidden])');
  const problem = await page.textContent('#problem');
  assert.match(problem!, /out of GPU memory/);
  assert.match(problem!, /Turn on training\.gradient_checkpointing/);
  assert.match((await page.textContent('#header'))!, /failed.*1 malformed line skipped/s);
  await page.click('button:has-text("Resume")');
  const posted = await page.evaluate(() => (window as any).posted);
  assert.deepEqual(posted.at(-1), { type: 'action', action: 'resume', runId: 'oom' });
  assert.deepEqual(problems, []);
  await page.close();
});

test(
  'a completed run of the bundled trainer offers Export…, which posts the export action (issue 26)',
  { skip },
  async () => {
    const { page, problems } = await openPanel();
    const events = recorded('lora-80.events.jsonl');
    await send(page, [
      { type: 'runs', runs: [{ id: 'done', label: 'done-run', settings: {} }] },
      { type: 'events', runId: 'done', events },
    ]);
    await page.waitForSelector('#header :text("completed")');
    await page.click('button:has-text("Export…")');
    const posted = await page.evaluate(() => (window as any).posted);
    assert.deepEqual(posted.at(-1), { type: 'action', action: 'export', runId: 'done' });
    assert.deepEqual(problems, []);
    await page.close();
  },
);

test("a stopped run of the user's own tool (axolotl) offers Log and Folder but no Resume", { skip }, async () => {
  const { page, problems } = await openPanel();
  const start = { ...recorded('oom.events.jsonl')[0], tool: 'axolotl' };
  const step = {
    event: 'step',
    time: 2,
    step: 1,
    total_steps: 10,
    epoch: 0.1,
    loss: 2.5,
    learning_rate: 1e-4,
    grad_norm: null,
    tokens_per_second: null,
    allocated_bytes: null,
    reserved_bytes: null,
    peak_allocated_bytes: null,
    device_used_bytes: null,
    elapsed_s: 1,
    eta_s: null,
  };
  await send(page, [
    { type: 'runs', runs: [{ id: 'ax', label: 'axolotl-run', settings: {} }] },
    { type: 'events', runId: 'ax', events: [start, step, { event: 'end', time: 3, status: 'stopped', step: 1 }] },
  ]);
  await page.waitForSelector('#header :text("stopped")');
  assert.ok(await page.isVisible('button:has-text("Log")'));
  assert.equal(await page.locator('button:has-text("Resume")').count(), 0);
  assert.deepEqual(problems, []);
  await page.close();
});

test(
  "the throughput model's prediction: a dashed line on the throughput chart, predicted beside actual ETA and tokens/s",
  { skip },
  async () => {
    const { page, problems } = await openPanel();
    const events = recorded('lora-80.events.jsonl');
    const start = { ...events[0], estimate_tokens_per_second: 12000 };
    const upTo50 = [
      start,
      ...events
        .slice(1)
        .filter((e) => !('step' in e) || e.step <= 50)
        .filter((e) => e.event !== 'end'),
    ];
    await send(page, [
      { type: 'runs', runs: [{ id: 'p1', label: 'predicted', settings: {} }] },
      { type: 'events', runId: 'p1', events: upTo50 },
    ]);
    await page.waitForFunction(() => ((window as any).loraLensPanel.charts().tps?.data[0]?.length ?? 0) === 50);
    const charts = await drawn(page);
    assert.deepEqual(
      column(charts.tps!, 'predicted').filter((v) => v !== null),
      new Array(50).fill(12000),
    );
    const step50 = events.find((e) => e.event === 'step' && e.step === 50);
    // 30 steps left at this run's tokens per step (tokens_seen / step), at the predicted 12,000 tokens/s.
    const predictedEta = Math.round((30 * step50.tokens_seen) / 50 / 12000);
    const header = (await page.textContent('#header'))!;
    assert.match(header, new RegExp(`ETA 27s \\(predicted ${predictedEta}s\\)`));
    assert.match(
      header,
      new RegExp(`${Math.round(step50.tokens_per_second).toLocaleString('en-US')} tok/s \\(predicted 12,000\\)`),
    );
    // A run without a prediction (older runs, another tool's) shows neither.
    await send(page, [
      { type: 'runs', runs: [{ id: 'q1', label: 'plain', settings: {} }] },
      { type: 'events', runId: 'q1', events: events.slice(0, 10) },
    ]);
    await page.waitForFunction(() => !document.querySelector('#header')!.textContent!.includes('predicted'));
    assert.deepEqual(problems, []);
    await page.close();
  },
);

test('Compare overlays several runs on each chart', { skip }, async () => {
  const { page, problems } = await openPanel();
  const events = recorded('lora-80.events.jsonl');
  await send(page, [
    {
      type: 'runs',
      runs: [
        { id: 'a', label: 'run-a', settings: {} },
        { id: 'b', label: 'run-b', settings: {} },
      ],
    },
    { type: 'events', runId: 'a', events },
    {
      type: 'events',
      runId: 'b',
      events: events
        .filter((e) => !('step' in e) || e.step <= 30)
        .map((e) => (e.event === 'step' ? { ...e, loss: e.loss + 0.5 } : e)),
    },
  ]);
  await page.waitForFunction(() => (window as any).loraLensPanel.charts().loss?.series.includes('run-b'));
  const charts = await drawn(page);
  assert.deepEqual(charts.loss!.series, ['step', 'run-a', 'run-b', 'run-a eval', 'run-b eval']);
  assert.equal(column(charts.loss!, 'run-a').filter((v) => v !== null).length, 80);
  assert.equal(column(charts.loss!, 'run-b').filter((v) => v !== null).length, 30);
  assert.deepEqual(charts.memory!.series, ['step', 'run-a', 'run-b', 'run-a estimate', 'run-b estimate']);
  await page.screenshot({ path: join(ROOT, 'test-artifacts', 'panel-compare.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test('the stream the real trainer recorded on an H100 draws the same way', { skip }, async () => {
  const { page, problems } = await openPanel();
  const events = readFileSync(join(ROOT, 'test/fixtures/trainer/recorded-events.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  await send(page, [
    { type: 'runs', runs: [{ id: 'h100', label: 'h100-recorded', settings: {} }] },
    { type: 'events', runId: 'h100', events },
  ]);
  await page.waitForFunction(() => ((window as any).loraLensPanel.charts().loss?.data[0]?.length ?? 0) === 24);
  const charts = await drawn(page);
  assert.equal(column(charts.loss!, 'train').at(-1), events.filter((e) => e.event === 'step').at(-1).loss);
  assert.match((await page.textContent('#header'))!, /completed.*step 24\/24/s);
  await page.screenshot({ path: join(ROOT, 'test-artifacts', 'panel-h100-recorded.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test(
  'the CLI end-to-end run on an H100 (lora-lens run, real trainer, tiny Llama) draws; its screenshot is docs/images/run-panel-h100.png',
  { skip },
  async () => {
    const { page, problems } = await openPanel();
    const events = recorded('h100-cli-e2e.events.jsonl');
    const plan = JSON.parse(readFileSync(join(ROOT, 'trainer/bench/e2e_cli_h100/plan.json'), 'utf8'));
    const settings = {
      method: plan.method,
      model: 'tiny-llama (random, 0.4M)',
      precision: plan.precision,
      learningRate: plan.training.learning_rate,
      rank: plan.lora.r,
      alpha: plan.lora.lora_alpha,
      effectiveBatch: plan.training.per_device_train_batch_size * plan.training.gradient_accumulation_steps,
      maxLength: plan.data.max_length,
    };
    const runId = events[0].run_id as string;
    await page.setViewportSize({ width: 1100, height: 820 });
    await send(page, [
      { type: 'runs', runs: [{ id: runId, label: runId, settings }] },
      { type: 'events', runId, events },
    ]);
    await page.waitForFunction(() => ((window as any).loraLensPanel.charts().loss?.data[0]?.length ?? 0) === 48);
    const charts = await drawn(page);
    const steps = events.filter((e) => e.event === 'step');
    assert.equal(column(charts.loss!, 'train').at(-1), steps.at(-1).loss);
    assert.deepEqual(
      column(charts.loss!, 'eval').filter((v) => v !== null),
      events.filter((e) => e.event === 'eval').map((e) => e.eval_loss),
    );
    assert.ok(
      Math.abs(column(charts.memory!, 'estimated peak').at(-1)! - events[0].estimate_peak_bytes / 2 ** 30) < 1e-9,
    );
    const header = (await page.textContent('#header'))!;
    assert.match(header, /completed.*step 48\/48.*loss 0\.9189/s);
    assert.match(header, /lora · tiny-llama/);
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'test-artifacts', 'run-panel-h100.png'), fullPage: true });
    // The committed image changes only on purpose: UPDATE_DOCS_IMAGES=1 node scripts/run-tests.mjs test/panel/panel.test.ts
    if (process.env.UPDATE_DOCS_IMAGES === '1')
      await page.screenshot({ path: join(ROOT, 'docs', 'images', 'run-panel-h100.png'), fullPage: true });
    assert.deepEqual(problems, []);
    await page.close();
  },
);

/** VS Code's variables as its webview host sets them: on <html>'s style, with the theme class on body. */
const THEMES = {
  dark: {
    cls: 'vscode-dark',
    vars: {
      '--vscode-font-family': 'system-ui, "Ubuntu", "Droid Sans", sans-serif',
      '--vscode-font-size': '13px',
      '--vscode-foreground': '#cccccc',
      '--vscode-button-secondaryBackground': '#313131',
      '--vscode-button-secondaryForeground': '#cccccc',
      '--vscode-panel-border': '#2b2b2b',
      '--vscode-focusBorder': '#0078d4',
      '--vscode-descriptionForeground': '#9d9d9d',
      '--vscode-editor-background': '#1f1f1f',
      '--vscode-editorWidget-border': '#454545',
      '--vscode-charts-blue': '#3794ff',
      '--vscode-charts-green': '#89d185',
      '--vscode-charts-orange': '#d18616',
      '--vscode-charts-purple': '#b180d7',
      '--vscode-charts-red': '#f14c4c',
      '--vscode-charts-yellow': '#cca700',
    },
  },
  light: {
    cls: 'vscode-light',
    vars: {
      '--vscode-font-family': 'system-ui, "Ubuntu", "Droid Sans", sans-serif',
      '--vscode-font-size': '13px',
      '--vscode-foreground': '#3b3b3b',
      '--vscode-button-secondaryBackground': '#e5e5e5',
      '--vscode-button-secondaryForeground': '#3b3b3b',
      '--vscode-panel-border': '#e5e5e5',
      '--vscode-focusBorder': '#005fb8',
      '--vscode-descriptionForeground': '#717171',
      '--vscode-editor-background': '#ffffff',
      '--vscode-editorWidget-border': '#c8c8c8',
      '--vscode-charts-blue': '#1a85ff',
      '--vscode-charts-green': '#388a34',
      '--vscode-charts-orange': '#d18616',
      '--vscode-charts-purple': '#652d90',
      '--vscode-charts-red': '#e51400',
      '--vscode-charts-yellow': '#bf8803',
    },
  },
} as const;
type Theme = keyof typeof THEMES;

async function setTheme(page: Page, theme: Theme): Promise<void> {
  await page.evaluate((t) => {
    for (const [k, v] of Object.entries(t.vars)) document.documentElement.style.setProperty(k, v);
    document.body.classList.remove('vscode-dark', 'vscode-light', 'vscode-high-contrast');
    document.body.classList.add(t.cls);
  }, THEMES[theme]);
}

/** Moves the real mouse over a chart's plot, `at` of the way across, and waits for the values at the cursor. */
async function hoverChart(
  page: Page,
  id: string,
  at: number,
): Promise<{ x: number; y: number; width: number; height: number }> {
  const box = (await (await page.$(`[data-chart="${id}"] .u-over`))!.boundingBox())!;
  await page.mouse.move(box.x + box.width * at, box.y + box.height / 2);
  await page.waitForFunction((c) => (window as any).loraLensPanel.charts()[c].tooltip !== null, id);
  return box;
}

/** uPlot gives colours back as the page computed them (hex, or rgb() for variables resolved by the browser). */
const hex = (c: string) => c.trim().toLowerCase();

async function openRecorded(page: Page, events: unknown[], id = 'r1') {
  await send(page, [
    { type: 'runs', runs: [{ id, label: id, settings: {} }] },
    { type: 'events', runId: id, events: events as never },
  ]);
  const steps = events.filter((e) => (e as { event: string }).event === 'step').length;
  await page.waitForFunction((n) => ((window as any).loraLensPanel.charts().loss?.data[0]?.length ?? 0) >= n, steps);
}

test(
  'a theme change re-reads the colours from the CSS variables (axis text, grid, lines), without a reload',
  { skip },
  async () => {
    const { page, problems } = await openPanel();
    await setTheme(page, 'dark');
    await openRecorded(page, recorded('lora-80.events.jsonl'));
    let charts = await drawn(page);
    assert.equal(hex(charts.lr!.axis.text), THEMES.dark.vars['--vscode-descriptionForeground']);
    assert.equal(hex(charts.lr!.axis.grid), THEMES.dark.vars['--vscode-editorWidget-border']);
    assert.equal(hex(charts.loss!.colors[0]!), THEMES.dark.vars['--vscode-charts-blue']);
    await hoverChart(page, 'loss', 0.6);
    await page.screenshot({ path: join(ROOT, 'test-artifacts', 'panel-dark.png'), fullPage: true });
    if (process.env.UPDATE_DOCS_IMAGES === '1')
      await page.screenshot({ path: join(ROOT, 'docs', 'images', 'run-panel-dark.png'), fullPage: true });

    await setTheme(page, 'light');
    await page.waitForFunction(
      (c) => (window as any).loraLensPanel.charts().lr.axis.text.toLowerCase() === c,
      THEMES.light.vars['--vscode-descriptionForeground'],
      { timeout: 10_000 },
    );
    charts = await drawn(page);
    for (const id of ['loss', 'lr', 'grad', 'tps', 'memory']) {
      assert.equal(hex(charts[id]!.axis.text), THEMES.light.vars['--vscode-descriptionForeground'], id);
      assert.equal(hex(charts[id]!.axis.grid), THEMES.light.vars['--vscode-editorWidget-border'], id);
    }
    assert.equal(hex(charts.loss!.colors[0]!), THEMES.light.vars['--vscode-charts-blue']);
    assert.equal(hex(charts.lr!.colors[0]!), THEMES.light.vars['--vscode-charts-purple']);
    assert.equal(charts.loss!.data[0]!.length, 80, 'the data survive the rebuild');
    await hoverChart(page, 'loss', 0.6);
    await page.screenshot({ path: join(ROOT, 'test-artifacts', 'panel-light.png'), fullPage: true });
    if (process.env.UPDATE_DOCS_IMAGES === '1')
      await page.screenshot({ path: join(ROOT, 'docs', 'images', 'run-panel-light.png'), fullPage: true });

    // And back to dark: not stuck on the light colours.
    await setTheme(page, 'dark');
    await page.waitForFunction(
      (c) => (window as any).loraLensPanel.charts().tps.axis.text.toLowerCase() === c,
      THEMES.dark.vars['--vscode-descriptionForeground'],
      { timeout: 10_000 },
    );
    assert.deepEqual(problems, []);
    await page.close();
  },
);

test('one cursor across the charts, with the values at the cursor (estimate and capacity too)', { skip }, async () => {
  const { page, problems } = await openPanel();
  const events = recorded('lora-80.events.jsonl');
  await openRecorded(page, events);
  // A real mouse over the loss chart's plot, two fifths of the way across.
  const box = await hoverChart(page, 'loss', 0.4);
  await page.waitForFunction(() => (window as any).loraLensPanel.charts().memory.tooltip !== null);
  const charts = await drawn(page);
  const step = charts.loss!.cursor.step!;
  assert.ok(step > 1 && step < 80, `cursor at step ${step}`);
  for (const id of ['lr', 'grad', 'tps', 'memory']) {
    assert.equal(charts[id]!.cursor.step, step, `${id} follows the loss chart's cursor`);
    assert.match(charts[id]!.tooltip!, new RegExp(`^step ${step}`), id);
  }
  const at = events.find((e) => e.event === 'step' && e.step === step);
  assert.match(
    charts.lr!.tooltip!,
    new RegExp(`learning rate${at.learning_rate.toExponential(2).replace(/[.+]/g, '\\$&')}`),
  );
  assert.match(charts.memory!.tooltip!, /estimated peak8\.6 GiB/);
  assert.match(charts.memory!.tooltip!, /GPU capacity79\.6 GiB/);
  assert.match(charts.memory!.tooltip!, new RegExp(`peak${(at.peak_allocated_bytes / 2 ** 30).toFixed(1)} GiB`));
  await page.mouse.move(box.x + box.width + 200, box.y - 100);
  await page.waitForFunction(() => (window as any).loraLensPanel.charts().memory.tooltip === null);
  assert.deepEqual(problems, []);
  await page.close();
});

test(
  'memory is scaled to what was used, the capacity a marked line off the scale; a short run gets whole-step ticks',
  { skip },
  async () => {
    const { page, problems } = await openPanel();
    const events = recorded('lora-80.events.jsonl');
    await openRecorded(page, events);
    const { memory } = await drawn(page);
    const steps = events.filter((e) => e.event === 'step');
    const used =
      Math.max(
        ...steps.map((e) => e.peak_allocated_bytes),
        ...steps.map((e) => e.reserved_bytes),
        events[0].estimate_peak_bytes,
      ) /
      2 ** 30;
    assert.equal(memory!.scales.y.min, 0);
    assert.ok(
      memory!.scales.y.max >= used && memory!.scales.y.max <= used * 1.3,
      `y max ${memory!.scales.y.max} for ${used.toFixed(2)} GiB used`,
    );
    assert.ok(
      memory!.markers[0]!.value > memory!.scales.y.max,
      'the 80 GB capacity lies above the scale and does not set it',
    );
    assert.doesNotMatch(memory!.legend!, /--/);
    await page.close();

    // Three steps: ticks on whole steps only; the header's estimate of a tiny model in MiB.
    const short = await openPanel();
    const three = [
      { ...events[0], total_steps: 3, estimate_peak_bytes: 14_000_000 },
      ...steps.slice(0, 3).map((e) => ({ ...e, total_steps: 3 })),
    ];
    await openRecorded(short.page, three, 'short');
    const charts = await drawn(short.page);
    for (const id of ['loss', 'memory']) {
      assert.ok(charts[id]!.xTicks.length >= 2, id);
      for (const t of charts[id]!.xTicks) assert.ok(Number.isInteger(t), `${id}: tick ${t}`);
    }
    assert.match((await short.page.textContent('#header'))!, /est\. 13\.4 MiB/);
    assert.deepEqual([...problems, ...short.problems], []);
    await short.page.close();
  },
);

test(
  'smoothing slider and log scale: the smoothed line follows the slider, the loss axis turns logarithmic; legends do not shift',
  { skip },
  async () => {
    const { page, problems } = await openPanel();
    const events = recorded('lora-80.events.jsonl');
    const first = events.filter((e) => !('step' in e) || e.step <= 20);
    await openRecorded(page, first);
    const legendBefore = (await drawn(page)).loss!.legend;
    await send(page, [{ type: 'events', runId: 'r1', events: events.slice(first.length) }]);
    await page.waitForFunction(() => (window as any).loraLensPanel.charts().loss.data[0].length === 80);
    let charts = await drawn(page);
    assert.equal(charts.loss!.legend, legendBefore, 'the legend is the same with 20 and 80 steps');
    assert.doesNotMatch(charts.loss!.legend!, /--/);
    const raw = column(charts.loss!, 'train');
    assert.notDeepEqual(column(charts.loss!, 'train (smoothed)'), raw);

    await page.evaluate(() => {
      const s = document.getElementById('smoothing') as HTMLInputElement;
      s.value = '0';
      s.dispatchEvent(new Event('input'));
    });
    await page.waitForFunction(() => {
      const c = (window as any).loraLensPanel.charts().loss;
      return c.data[2].every((v: number, i: number) => v === c.data[1][i]);
    });
    charts = await drawn(page);
    assert.deepEqual(column(charts.loss!, 'train (smoothed)'), raw, 'smoothing 0 is the raw loss');
    await page.evaluate(() => {
      const s = document.getElementById('smoothing') as HTMLInputElement;
      s.value = '0.95';
      s.dispatchEvent(new Event('input'));
    });
    await page.waitForFunction(() => (window as any).loraLensPanel.options().smoothing === 0.95);
    await page.waitForFunction(() => {
      const c = (window as any).loraLensPanel.charts().loss;
      return c.data[2][40] !== c.data[1][40];
    });
    assert.equal(charts.loss!.scales.y.distr, 1);
    await page.click('#log-loss');
    await page.waitForFunction(() => (window as any).loraLensPanel.charts().loss.scales.y.distr === 3);
    assert.deepEqual(await page.evaluate(() => (window as any).state), {
      runIds: ['r1'],
      smoothing: 0.95,
      logLoss: true,
    });
    assert.deepEqual(problems, []);
    await page.close();
  },
);

test(
  'Compare names runs by what differs ("r=16" against "r=64") and tables the settings that differ',
  { skip },
  async () => {
    const { page, problems } = await openPanel();
    const events = recorded('lora-80.events.jsonl');
    const settings = {
      method: 'lora',
      model: 'Qwen/Qwen2.5-0.5B-Instruct',
      learningRate: 0.0002,
      rank: 16,
      alpha: 32,
      effectiveBatch: 8,
      maxLength: 1024,
    };
    await send(page, [
      {
        type: 'runs',
        runs: [
          {
            id: 'qwen-20251123-090507-8000',
            label: 'qwen · Nov 23, 09:05',
            name: 'qwen',
            when: 'Nov 23, 09:05',
            settings,
          },
          {
            id: 'qwen-20251123-101500-a1b2',
            label: 'qwen · Nov 23, 10:15',
            name: 'qwen',
            when: 'Nov 23, 10:15',
            settings: { ...settings, rank: 64, alpha: 128 },
          },
        ],
      },
      { type: 'events', runId: 'qwen-20251123-090507-8000', events },
      {
        type: 'events',
        runId: 'qwen-20251123-101500-a1b2',
        events: events.map((e) => (e.event === 'step' ? { ...e, loss: e.loss - 0.2 } : e)),
      },
    ]);
    await page.waitForFunction(() => (window as any).loraLensPanel.charts().loss?.series.includes('r=64 alpha=128'));
    const charts = await drawn(page);
    assert.deepEqual(charts.loss!.series, [
      'step',
      'r=16 alpha=32',
      'r=64 alpha=128',
      'r=16 alpha=32 eval',
      'r=64 alpha=128 eval',
    ]);
    assert.match(charts.loss!.legend!, /^r=16 alpha=32r=64 alpha=128/);
    const rows = await page.$$eval('#settings-diff tr', (trs) =>
      trs.map((tr) => Array.from(tr.children, (c) => c.textContent)),
    );
    assert.deepEqual(rows, [
      ['run', 'r', 'alpha'],
      ['r=16 alpha=32', '16', '32'],
      ['r=64 alpha=128', '64', '128'],
    ]);
    assert.match((await page.textContent('#header'))!, /r=16 alpha=32qwen · Nov 23, 09:05/);
    assert.deepEqual(problems, []);
    await page.close();
  },
);

test('a resumed run is marked on every chart at the step it resumed from', { skip }, async () => {
  const { page, problems } = await openPanel();
  const events = recorded('lora-80.events.jsonl');
  const first = events.filter((e) => e.event !== 'end' && (!('step' in e) || e.step <= 50));
  const resumed = [
    { ...events[0], resumed_from_step: 40 },
    ...events.slice(1).filter((e) => 'step' in e && e.step > 40),
  ];
  await send(page, [
    { type: 'runs', runs: [{ id: 'r', label: 'qwen · Nov 23, 09:05', settings: {} }] },
    { type: 'events', runId: 'r', events: [...first, ...resumed] },
  ]);
  await page.waitForFunction(() => ((window as any).loraLensPanel.charts().loss?.data[0]?.length ?? 0) === 80);
  const charts = (await drawn(page)) as Record<
    string,
    Drawn[string] & { stepMarkers: { label: string; value: number }[] }
  >;
  for (const id of ['loss', 'lr', 'grad', 'tps', 'memory'])
    assert.deepEqual(
      charts[id]!.stepMarkers.map((m) => [m.label, m.value]),
      [['resumed at step 40', 40]],
      id,
    );
  assert.match(charts.loss!.legend!, /resumed at step 40/);
  // The replayed steps are drawn once: 80 points, not 90.
  assert.equal(column(charts.loss!, 'train').length, 80);
  assert.deepEqual(problems, []);
  await page.close();
});

test(
  'the panel at half width (560 px): nothing wider than the page, one chart per row; screenshots in docs/images',
  { skip },
  async () => {
    const { page, problems } = await openPanel();
    await page.setViewportSize({ width: 560, height: 900 });
    const events = recorded('lora-80.events.jsonl');
    const settings = {
      method: 'lora',
      model: 'Qwen/Qwen2.5-0.5B-Instruct',
      learningRate: 0.0002,
      rank: 16,
      alpha: 32,
      effectiveBatch: 8,
      maxLength: 1024,
      precision: 'bf16',
    };
    const start = { ...events[0], estimate_tokens_per_second: 12000 };
    await send(page, [
      {
        type: 'runs',
        runs: [
          {
            id: 'qwen-20251123-090507-8000',
            label: 'qwen · Nov 23, 09:05',
            name: 'qwen',
            when: 'Nov 23, 09:05',
            settings,
          },
        ],
      },
      {
        type: 'events',
        runId: 'qwen-20251123-090507-8000',
        events: [start, ...events.slice(1).filter((e) => e.event !== 'end' && (!('step' in e) || e.step <= 50))],
      },
    ]);
    await page.waitForFunction(() => ((window as any).loraLensPanel.charts().loss?.data[0]?.length ?? 0) === 50);
    const overflow = () =>
      page.evaluate(() => {
        const wide = Array.from(document.querySelectorAll('body *')).filter(
          (n) =>
            n.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5 &&
            !n.closest('#settings-diff'),
        );
        return {
          scroll: document.documentElement.scrollWidth - document.documentElement.clientWidth,
          wide: wide.slice(0, 5).map((n) => `${n.tagName}.${n.className}`),
        };
      });
    assert.deepEqual(await overflow(), { scroll: 0, wide: [] });
    const tops = await page.$$eval('.chart', (boxes) => boxes.map((b) => b.getBoundingClientRect().top));
    assert.equal(new Set(tops).size, tops.length, 'one chart per row');
    assert.ok(await page.isVisible('button:has-text("Stop")'));
    mkdirSync(join(ROOT, 'docs', 'images'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'docs', 'images', 'run-panel-half-width.png') });

    await send(page, [
      {
        type: 'runs',
        runs: [
          {
            id: 'qwen-20251123-090507-8000',
            label: 'qwen · Nov 23, 09:05',
            name: 'qwen',
            when: 'Nov 23, 09:05',
            settings,
          },
          {
            id: 'qwen-20251123-101500-a1b2',
            label: 'qwen · Nov 23, 10:15',
            name: 'qwen',
            when: 'Nov 23, 10:15',
            settings: { ...settings, rank: 64, alpha: 128, learningRate: 0.0001 },
          },
        ],
      },
      { type: 'events', runId: 'qwen-20251123-090507-8000', events },
      {
        type: 'events',
        runId: 'qwen-20251123-101500-a1b2',
        events: events
          .filter((e) => !('step' in e) || e.step <= 60)
          .map((e) => (e.event === 'step' ? { ...e, loss: e.loss * 0.9 } : e)),
      },
    ]);
    await page.waitForFunction(() =>
      (window as any).loraLensPanel.charts().loss?.series.includes('r=64 alpha=128 lr=1e-4'),
    );
    assert.deepEqual(await overflow(), { scroll: 0, wide: [] });
    await page.screenshot({ path: join(ROOT, 'docs', 'images', 'run-compare.png'), fullPage: true });
    assert.deepEqual(problems, []);
    await page.close();
  },
);

test('a run reads "loading N%" while the trainer streams its checkpoint, then runs', { skip }, async () => {
  const { page, problems } = await openPanel();
  const gib = 1024 ** 3;
  const loading = (phase: string, done: number, tensors: number) => ({
    event: 'loading',
    time: 1,
    model: 'meta-llama/Llama-3.1-70B',
    phase,
    tensors_done: tensors,
    tensors_total: 723,
    loaded_bytes: done * gib,
    total_bytes: 40 * gib,
  });
  await send(page, [
    { type: 'runs', runs: [{ id: 'r1', label: 'llama-70b-qlora', settings: { method: 'qlora' } }] },
    { type: 'events', runId: 'r1', events: [loading('start', 0, 0), loading('progress', 18, 320)] as never },
  ]);
  await page.waitForSelector('#header .status-loading');
  assert.equal(await page.textContent('#header .status'), 'loading 45%');
  assert.match((await page.textContent('#header'))!, /meta-llama\/Llama-3\.1-70B: 18\.0\/40\.0 GiB, 320\/723 tensors/);
  const start = recorded('lora-80.events.jsonl')[0];
  await send(page, [{ type: 'events', runId: 'r1', events: [loading('done', 40, 723), start] as never }]);
  await page.waitForSelector('#header .status-running');
  assert.ok(!(await page.textContent('#header'))!.includes('loading'));
  assert.deepEqual(problems, []);
  await page.close();
});
