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
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const ROOT = join(__dirname, '..', '..');
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install -y chromium)`;
const recorded = (name: string) => readFileSync(join(ROOT, 'test/fixtures/runs', name), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

let browser: Browser;
let pageUrl: string;

before(async () => {
  if (skip) return;
  const built = spawnSync(process.execPath, [join(ROOT, 'scripts/copy-media.mjs')], { encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr);
  const media = (name: string) => pathToFileURL(join(ROOT, 'media', name)).href;
  const html = renderPanelHtml({
    cspSource: 'file:', nonce: makeNonce(),
    uplotScript: media('build/uPlot.iife.min.js'), uplotStyle: media('build/uPlot.min.css'),
    panelScript: media('build/panel.js'), panelStyle: media('panel.css'),
  });
  const dir = mkdtempSync(join(tmpdir(), 'panel-'));
  writeFileSync(join(dir, 'panel.html'), html);
  pageUrl = pathToFileURL(join(dir, 'panel.html')).href;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});
after(async () => { await browser?.close(); });

/** Opens the page with a stand-in acquireVsCodeApi that records what the page posts and keeps its state. */
async function openPanel(): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const problems: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error' || /Content Security Policy/.test(m.text())) problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  // A string, not a function: tsx's helpers (__name) do not exist in the page.
  await page.addInitScript(`
    window.posted = [];
    window.acquireVsCodeApi = () => ({ postMessage: (m) => window.posted.push(m), getState: () => window.state, setState: (s) => { window.state = s; } });
  `);
  await page.goto(pageUrl);
  await page.waitForFunction(() => (window as unknown as { posted: { type: string }[] }).posted.some((m) => m.type === 'ready'), undefined, { timeout: 5000 })
    .catch((e) => { throw new Error(`the page did not start: ${problems.join('; ') || e}`); });
  return { page, problems };
}

const send = (page: Page, messages: ToPanel[]) => page.evaluate((ms) => { for (const m of ms) window.postMessage(m, '*'); }, messages);
type Drawn = Record<string, { series: string[]; data: (number | null)[][] }>;
const drawn = (page: Page) => page.evaluate(() => (window as unknown as { loraLensPanel: { charts(): unknown } }).loraLensPanel.charts() as Drawn);
const column = (chart: Drawn[string], label: string) => chart.data[chart.series.indexOf(label)]!;

test('a recorded run is drawn: series lengths, last values, estimate and capacity lines; then live events', { skip }, async () => {
  const { page, problems } = await openPanel();
  const events = recorded('lora-80.events.jsonl');
  const upTo50 = events.filter((e) => !('step' in e) || e.step <= 50).filter((e) => e.event !== 'end');
  const rest = events.slice(upTo50.length);
  await send(page, [
    { type: 'runs', runs: [{ id: 'r1', label: 'qwen-lora', settings: { method: 'lora', model: 'Qwen/Qwen2.5-0.5B-Instruct', learningRate: 0.0002, rank: 16, alpha: 32, effectiveBatch: 8, maxLength: 1024 } }] },
    { type: 'events', runId: 'r1', events: upTo50 },
  ]);
  await page.waitForFunction(() => ((window as any).loraLensPanel.charts().loss?.data[0]?.length ?? 0) === 50);
  let charts = await drawn(page);
  assert.deepEqual(Object.keys(charts), ['loss', 'lr', 'grad', 'tps', 'memory']);
  const step50 = events.find((e) => e.event === 'step' && e.step === 50);
  assert.equal(column(charts.loss!, 'train').length, 50);
  assert.equal(column(charts.loss!, 'train').at(-1), step50.loss);
  assert.deepEqual(column(charts.loss!, 'eval').filter((v) => v !== null), events.filter((e) => e.event === 'eval' && e.step <= 50).map((e) => e.eval_loss));
  assert.equal(column(charts.lr!, 'learning rate').at(-1), step50.learning_rate);
  assert.equal(column(charts.tps!, 'tokens/s').at(-1), step50.tokens_per_second);
  assert.ok(Math.abs(column(charts.memory!, 'peak').at(-1)! - step50.peak_allocated_bytes / 2 ** 30) < 1e-9);
  assert.ok(Math.abs(column(charts.memory!, 'estimated peak').at(-1)! - events[0].estimate_peak_bytes / 2 ** 30) < 1e-9);
  assert.ok(charts.memory!.series.includes('GPU capacity'));
  const header = await page.textContent('#header');
  assert.match(header!, /running/);
  assert.match(header!, /step 50\/80/);
  assert.match(header!, /ETA 27s/);
  assert.match(header!, /lora · Qwen\/Qwen2\.5-0\.5B-Instruct · lr 0\.0002 · r 16 · α 32 · batch 8 · len 1024/);
  mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
  await page.screenshot({ path: join(ROOT, 'test-artifacts', 'panel-running.png'), fullPage: true });

  await send(page, [{ type: 'events', runId: 'r1', events: rest }]);
  // The update is drawn without a reload; its speed is not asserted here (a shared CI machine varies too much).
  await page.waitForFunction(() => (window as any).loraLensPanel.charts().loss.data[0].length === 80, undefined, { timeout: 10_000 });
  charts = await drawn(page);
  assert.equal(column(charts.loss!, 'train').at(-1), 1.0841);
  assert.match((await page.textContent('#header'))!, /completed.*step 80\/80.*loss 1\.0841/s);
  assert.ok(await page.isVisible('text=Folder'));
  await page.screenshot({ path: join(ROOT, 'test-artifacts', 'panel-completed.png'), fullPage: true });
  const state = await page.evaluate(() => (window as any).state);
  assert.deepEqual(state, { runIds: ['r1'] });
  assert.deepEqual(problems, []);
  await page.close();
});

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

test('Compare overlays several runs on each chart', { skip }, async () => {
  const { page, problems } = await openPanel();
  const events = recorded('lora-80.events.jsonl');
  await send(page, [
    { type: 'runs', runs: [{ id: 'a', label: 'run-a', settings: {} }, { id: 'b', label: 'run-b', settings: {} }] },
    { type: 'events', runId: 'a', events },
    { type: 'events', runId: 'b', events: events.filter((e) => !('step' in e) || e.step <= 30).map((e) => (e.event === 'step' ? { ...e, loss: e.loss + 0.5 } : e)) },
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
  const events = readFileSync(join(ROOT, 'test/fixtures/trainer/recorded-events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  await send(page, [{ type: 'runs', runs: [{ id: 'h100', label: 'h100-recorded', settings: {} }] }, { type: 'events', runId: 'h100', events }]);
  await page.waitForFunction(() => ((window as any).loraLensPanel.charts().loss?.data[0]?.length ?? 0) === 24);
  const charts = await drawn(page);
  assert.equal(column(charts.loss!, 'train').at(-1), events.filter((e) => e.event === 'step').at(-1).loss);
  assert.match((await page.textContent('#header'))!, /completed.*step 24\/24/s);
  await page.screenshot({ path: join(ROOT, 'test-artifacts', 'panel-h100-recorded.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test('the CLI end-to-end run on an H100 (lora-lens run, real trainer, tiny Llama) draws; its screenshot is docs/images/run-panel-h100.png', { skip }, async () => {
  const { page, problems } = await openPanel();
  const events = recorded('h100-cli-e2e.events.jsonl');
  const plan = JSON.parse(readFileSync(join(ROOT, 'trainer/bench/e2e_cli_h100/plan.json'), 'utf8'));
  const settings = { method: plan.method, model: 'tiny-llama (random, 0.4M)', precision: plan.precision, learningRate: plan.training.learning_rate, rank: plan.lora.r, alpha: plan.lora.lora_alpha, effectiveBatch: plan.training.per_device_train_batch_size * plan.training.gradient_accumulation_steps, maxLength: plan.data.max_length };
  const runId = events[0].run_id as string;
  await page.setViewportSize({ width: 1100, height: 820 });
  await send(page, [{ type: 'runs', runs: [{ id: runId, label: runId, settings }] }, { type: 'events', runId, events }]);
  await page.waitForFunction(() => ((window as any).loraLensPanel.charts().loss?.data[0]?.length ?? 0) === 48);
  const charts = await drawn(page);
  const steps = events.filter((e) => e.event === 'step');
  assert.equal(column(charts.loss!, 'train').at(-1), steps.at(-1).loss);
  assert.deepEqual(column(charts.loss!, 'eval').filter((v) => v !== null), events.filter((e) => e.event === 'eval').map((e) => e.eval_loss));
  assert.ok(Math.abs(column(charts.memory!, 'estimated peak').at(-1)! - events[0].estimate_peak_bytes / 2 ** 30) < 1e-9);
  const header = (await page.textContent('#header'))!;
  assert.match(header, /completed.*step 48\/48.*loss 0\.9189/s);
  assert.match(header, /lora · tiny-llama/);
  mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
  await page.screenshot({ path: join(ROOT, 'test-artifacts', 'run-panel-h100.png'), fullPage: true });
  // The committed image changes only on purpose: UPDATE_DOCS_IMAGES=1 node scripts/run-tests.mjs test/panel/panel.test.ts
  if (process.env.UPDATE_DOCS_IMAGES === '1') await page.screenshot({ path: join(ROOT, 'docs', 'images', 'run-panel-h100.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});
