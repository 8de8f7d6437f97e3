// The run panel of a preference run in a real headless Chromium: a real ORPO run's events (the bundled trainer on
// the CPU, test/fixtures/runs/orpo-40.events.jsonl) draw a reward margin chart and a reward accuracy chart next to
// the loss, train and eval, with the values the events carry; an SFT run's panel has neither chart.
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

const CHROMIUM = '/usr/bin/chromium';
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
  const dir = mkdtempSync(join(tmpdir(), 'preference-panel-'));
  writeFileSync(join(dir, 'panel.html'), html);
  pageUrl = pathToFileURL(join(dir, 'panel.html')).href;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
});
after(async () => {
  await browser?.close();
});

async function openPanel(): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1400 } });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || /Content Security Policy/.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  await page.addInitScript(`
    window.posted = [];
    window.acquireVsCodeApi = () => ({ postMessage: (m) => window.posted.push(m), getState: () => window.state, setState: (s) => { window.state = s; } });
  `);
  await page.goto(pageUrl);
  await page.waitForFunction(
    () => (window as unknown as { posted: { type: string }[] }).posted.some((m) => m.type === 'ready'),
    undefined,
    { timeout: 30_000 },
  );
  return { page, problems };
}

const send = (page: Page, messages: ToPanel[]) =>
  page.evaluate((ms) => {
    for (const m of ms) window.postMessage(m, '*');
  }, messages);
type Drawn = Record<string, { series: string[]; data: (number | null)[][] }>;
const drawn = (page: Page) =>
  page.evaluate(() => (window as unknown as { loraLensPanel: { charts(): unknown } }).loraLensPanel.charts() as Drawn);
const column = (chart: Drawn[string], label: string) => chart.data[chart.series.indexOf(label)]!;
const runsMessage = (id: string): ToPanel => ({
  type: 'runs',
  runs: [
    {
      id,
      label: id,
      settings: {
        method: 'lora',
        model: 'tiny-llama',
        learningRate: 0.002,
        rank: 8,
        alpha: 16,
        effectiveBatch: 8,
        maxLength: 64,
      },
    },
  ],
});

test('a preference run charts its reward margin and accuracy, train and eval, next to the loss', { skip }, async () => {
  const { page, problems } = await openPanel();
  const events = recorded('orpo-40.events.jsonl');
  await send(page, [runsMessage('orpo'), { type: 'events', runId: 'orpo', events }]);
  await page.waitForFunction(() => ((window as any).loraLensPanel.charts().margin?.data[0]?.length ?? 0) === 40);
  const charts = await drawn(page);
  assert.deepEqual(Object.keys(charts), ['loss', 'margin', 'accuracy', 'lr', 'grad', 'tps', 'memory']);
  const steps = events.filter((e) => e.event === 'step');
  const evals = events.filter((e) => e.event === 'eval');
  assert.deepEqual(
    column(charts.margin!, 'train'),
    steps.map((e) => e['rewards/margins']),
  );
  assert.deepEqual(
    column(charts.accuracy!, 'train'),
    steps.map((e) => e['rewards/accuracies'] * 100),
  );
  // The eval points sit at their steps (aligned on the chart's step axis: null elsewhere).
  assert.deepEqual(
    column(charts.margin!, 'eval').filter((v) => v !== null),
    evals.map((e) => e['eval_rewards/margins']),
  );
  assert.deepEqual(
    column(charts.accuracy!, 'eval').filter((v) => v !== null),
    evals.map((e) => e['eval_rewards/accuracies'] * 100),
  );
  assert.ok(column(charts.margin!, 'train').at(-1)! > column(charts.margin!, 'train')[0]!);
  mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
  await page.screenshot({ path: join(ROOT, 'test-artifacts', 'panel-preference.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test("an SFT run's panel has no reward charts", { skip }, async () => {
  const { page, problems } = await openPanel();
  await send(page, [runsMessage('sft'), { type: 'events', runId: 'sft', events: recorded('lora-80.events.jsonl') }]);
  await page.waitForFunction(() => ((window as any).loraLensPanel.charts().loss?.data[0]?.length ?? 0) === 80);
  assert.deepEqual(Object.keys(await drawn(page)), ['loss', 'lr', 'grad', 'tps', 'memory']);
  assert.deepEqual(problems, []);
  await page.close();
});
