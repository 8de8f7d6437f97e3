// Per-rank memory in the run panel (issue 21), in a real headless Chromium: a tool run on 8 GPUs, its step events made
// by the real adapter from the 8-GPU nvidia-smi rounds (test/fixtures/nvidia-smi), shows each rank's GPU beside the
// peak; a one-GPU run shows no such line.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { makeNonce, renderPanelHtml } from '../../extension/src/runs/panelHtml';
import type { ToPanel } from '../../extension/src/runs/panelProtocol';
import type { TrainerEvent } from '../../server/src/runs/events';
import { ToolOutputAdapter } from '../../server/src/runs/tools/adapter';
import { GpuRounds, parseGpuMemoryLine } from '../../server/src/runs/tools/gpuSampler';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = join(__dirname, '..', '..');
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install -y chromium)`;
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
  const dir = mkdtempSync(join(tmpdir(), 'rank-memory-panel-'));
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

/** A tool run's events: a step per nvidia-smi round of `gpus` GPUs (the recorded 8-GPU rounds, cut to `gpus`). */
function toolRunEvents(gpus: number): TrainerEvent[] {
  const text = readFileSync(join(ROOT, 'test/fixtures/nvidia-smi/query-gpu-index-memory-8xH100.txt'), 'utf8');
  const rounds = new GpuRounds([0, 1, 2, 3, 4, 5, 6, 7]);
  const adapter = new ToolOutputAdapter({
    runId: 'r',
    tool: 'axolotl',
    method: 'lora',
    model: 'm',
    trainableParams: 1,
    totalParams: 2,
    numTrainRows: 3,
    estimatePeakBytes: null,
    estimateTokensPerSecond: null,
    tokensPerStep: null,
    loggingSteps: 1,
    gpu: null,
    now: () => 100,
  });
  const events: TrainerEvent[] = [];
  for (const line of text.split('\n')) {
    const reading = parseGpuMemoryLine(line);
    const round = reading ? rounds.push(reading) : null;
    if (!round) continue;
    adapter.gpuSample(round.gpus.slice(0, gpus).map((g) => g.usedBytes));
    events.push(...adapter.line("{'loss': 1.25, 'grad_norm': 0.5, 'learning_rate': 0.0001, 'epoch': 0.1}"));
  }
  return events;
}

async function header(events: TrainerEvent[]): Promise<{ text: string; problems: string[]; page: Page }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  await page.addInitScript(`
    window.acquireVsCodeApi = () => ({ postMessage: () => {}, getState: () => undefined, setState: () => {} });
  `);
  await page.goto(pageUrl);
  const messages: ToPanel[] = [
    { type: 'runs', runs: [{ id: 'r', label: 'r', settings: { method: 'lora', model: 'm' } }] },
    { type: 'events', runId: 'r', events },
  ];
  await page.evaluate((ms) => {
    for (const m of ms) window.postMessage(m, '*');
  }, messages);
  await page.waitForFunction(() => ((window as any).loraLensPanel.charts().loss?.data[0]?.length ?? 0) === 3);
  return { text: await page.locator('#header').innerText(), problems, page };
}

test('8 GPUs: the header lists each rank’s GPU memory, rank 0 first', { skip }, async () => {
  const { text, problems, page } = await header(toolRunEvents(8));
  assert.match(text, /per GPU 60\.5 · 58\.9 · 58\.9 · 58\.9 · 58\.9 · 58\.9 · 58\.9 · 58\.9 GiB/);
  assert.deepEqual(problems, []);
  await page.close();
});

test('one GPU: no per-GPU line', { skip }, async () => {
  const { text, problems, page } = await header(toolRunEvents(1));
  assert.doesNotMatch(text, /per GPU/);
  assert.match(text, /peak 60\.5 GiB/);
  assert.deepEqual(problems, []);
  await page.close();
});
