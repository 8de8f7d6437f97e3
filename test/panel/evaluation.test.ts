// The run panel's Evaluation section (issue 24) in a real headless Chromium: an eval/ folder written here (the
// trainer's report.json and predictions.jsonl, scored by runs/evalResults.ts as Evaluate Run scores it) read back
// and sent as the extension sends it. The metrics table with its changes, the examples side by side with the words
// that differ marked, the filter for the examples that got worse, the Evaluate button, and Compare's metrics.
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
import { readEvaluation, scoreEvaluation, type EvaluationView } from '../../server/src/runs/evalResults';

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
  const dir = mkdtempSync(join(tmpdir(), 'panel-eval-'));
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
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
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
  await page.waitForFunction(() => (window as unknown as { posted: { type: string }[] }).posted.length > 0);
  return { page, problems };
}

const send = (page: Page, messages: ToPanel[]) =>
  page.evaluate((ms) => {
    for (const m of ms) window.postMessage(m, '*');
  }, messages);

/** A run folder with eval/ as the trainer writes it, scored on f1 and exact_match as Evaluate Run does. */
function evaluatedRun(): { dir: string; evaluation: EvaluationView } {
  const dir = mkdtempSync(join(tmpdir(), 'run-eval-'));
  const out = join(dir, 'eval');
  mkdirSync(out);
  const lines = [
    { row: 0, prompt: 'Capital of France?', reference: 'Paris', base: 'It is Lyon', tuned: 'Paris France' },
    { row: 1, prompt: 'Capital of Peru?', reference: 'Lima', base: 'Lima', tuned: 'The city of Cusco' },
    { row: 2, prompt: 'Capital of Chile?', reference: 'Santiago', base: 'Santiago', tuned: 'Santiago' },
  ];
  writeFileSync(join(out, 'predictions.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const report = {
    out,
    predictions: join(out, 'predictions.jsonl'),
    loss: {
      base: { loss: 3.2, perplexity: 24.5, tokens: 30 },
      tuned: { loss: 1.1, perplexity: 3.0, tokens: 30 },
    },
    forgetting: {
      file: '/g.txt',
      base: { perplexity: 10 },
      tuned: { perplexity: 10.9 },
      change_percent: 9,
      threshold_percent: 5,
      passed: false,
    },
  };
  writeFileSync(join(out, 'report.json'), JSON.stringify(report));
  const scored = scoreEvaluation(report, ['exact_match', 'f1'], null);
  assert.ok(typeof scored !== 'string', String(scored));
  const evaluation = readEvaluation(dir);
  assert.ok(evaluation);
  return { dir, evaluation };
}

test(
  'the Evaluation section: metrics with their change, examples side by side, the worse-only filter',
  { skip },
  async () => {
    const { evaluation } = evaluatedRun();
    // By hand: exact match 2 of 3 for base, 1 of 3 tuned; F1 base (0 + 100 + 100) / 3, tuned (66.67 + 0 + 100) / 3
    // ('Paris France' against 'Paris': precision 1/2, recall 1); only row 1 got worse.
    const em = evaluation.metrics.find((m) => m.metric === 'exact_match')!;
    assert.equal(em.base!.toFixed(2), '66.67');
    assert.equal(em.tuned!.toFixed(2), '33.33');
    const f1Row = evaluation.metrics.find((m) => m.metric === 'f1')!;
    assert.equal(f1Row.tuned!.toFixed(2), '55.56');
    assert.equal(evaluation.worse, 1);
    assert.equal(evaluation.totalExamples, 3);

    const { page, problems } = await openPanel();
    await send(page, [
      { type: 'runs', runs: [{ id: 'r1', label: 'capitals', settings: {} }] },
      {
        type: 'events',
        runId: 'r1',
        events: [
          { event: 'start', schema_version: 1, time: 0, total_steps: 1, max_length: 16 } as never,
          { event: 'end', schema_version: 1, time: 1, status: 'completed', step: 1 } as never,
        ],
      },
      { type: 'evaluation', runId: 'r1', evaluation },
    ]);
    await page.waitForSelector('#evaluation:not([hidden])');
    const cells = async (metric: string) =>
      page.$$eval(`#evaluation tr[data-metric="${metric}"] td`, (tds) =>
        tds.map((td) => [td.textContent, td.className]),
      );
    const loss = await cells('eval_loss');
    assert.deepEqual(
      loss.map(([t]) => t),
      ['eval_loss', '3.20', '1.10', '-2.10', '30'],
    );
    assert.match(loss[3]![1]!, /change-better/, 'a lower loss is better');
    const f1 = await cells('f1');
    assert.match(f1[3]![0]!, /^-/);
    assert.match(f1[3]![1]!, /change-worse/);
    assert.match(
      (await page.textContent('#evaluation'))!,
      /Forgetting check: .*10\.00 → 10\.90 \(\+9\.00%; over the 5% accepted\)/,
    );

    // Side by side: four cells per example; the tuned answer's new words marked, the base's dropped ones too.
    assert.equal(await page.locator('.eval-example').count(), 3);
    const worse = page.locator('.eval-example[data-row="1"]');
    assert.match((await worse.getAttribute('class'))!, /verdict-worse/);
    assert.deepEqual(await worse.locator('mark.added').allTextContents(), ['The', 'city', 'of', 'Cusco']);
    assert.deepEqual(await worse.locator('mark.removed').allTextContents(), ['Lima']);
    const same = page.locator('.eval-example[data-row="2"]');
    assert.equal(await same.locator('mark').count(), 0, 'identical answers: nothing marked');

    await page.check('#eval-only-worse');
    await page.waitForFunction(() => document.querySelectorAll('.eval-example').length === 1);
    assert.equal(await page.locator('.eval-example').getAttribute('data-row'), '1');
    assert.match((await page.textContent('.eval-count'))!, /1 shown of 3/);

    await page.click('button:has-text("Evaluate again")');
    const posted = await page.evaluate(() => (window as unknown as { posted: unknown[] }).posted);
    assert.deepEqual(posted.at(-1), { type: 'action', action: 'evaluate', runId: 'r1' });
    assert.deepEqual(problems, []);
    await page.close();
  },
);

test('Compare shows each run’s metrics in a column; a run not evaluated yet is said so', { skip }, async () => {
  const { evaluation } = evaluatedRun();
  const { page, problems } = await openPanel();
  await send(page, [
    {
      type: 'runs',
      runs: [
        { id: 'a', label: 'capitals r8', name: 'capitals', settings: { rank: 8 } },
        { id: 'b', label: 'capitals r64', name: 'capitals', settings: { rank: 64 } },
      ],
    },
    { type: 'evaluation', runId: 'a', evaluation },
    { type: 'evaluation', runId: 'b', evaluation: null },
  ]);
  await page.waitForSelector('#evaluation:not([hidden]) table.eval-compare');
  const row = await page.$$eval('#evaluation tr[data-metric="eval_loss"] td', (tds) => tds.map((t) => t.textContent));
  assert.deepEqual(row, ['eval_loss', '1.10 (-2.10)', '-']);
  const heads = await page.$$eval('#evaluation th', (ths) => ths.map((t) => t.textContent));
  assert.equal(heads.length, 3);
  assert.match((await page.textContent('#evaluation'))!, /1 run\(s\) not evaluated yet/);
  assert.equal(await page.locator('.eval-example').count(), 0, 'Compare lists no examples');
  assert.deepEqual(problems, []);
  await page.close();
});

test('a run without eval/ has no section; predictions the reader cannot use are skipped', () => {
  const dir = mkdtempSync(join(tmpdir(), 'run-noeval-'));
  assert.equal(readEvaluation(dir), null);
  const { dir: evaluated } = evaluatedRun();
  const path = join(evaluated, 'eval', 'predictions.jsonl');
  writeFileSync(path, `not json\n{"base": 1}\n${readFileSync(path, 'utf8')}`);
  assert.equal(readEvaluation(evaluated)!.totalExamples, 3);
});
