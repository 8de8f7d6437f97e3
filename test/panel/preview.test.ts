// The training-data preview page in a real headless Chromium: the HTML the extension renders (strict CSP, nonce), the
// bundled page script, a stand-in acquireVsCodeApi whose posted marks are appended to a real review file by
// reviewFile.ts (what the extension does), and a report shaped as schemas/preview.schema.json (checked here).
// Rendering (trained/masked/special tokens, the cut, the model's own template), keyboard marking with g/b/u, and the
// review surviving a reload of the page (a new page reading the same file).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { makeNonce } from '../../extension/src/runs/panelHtml';
import { renderPreviewHtml } from '../../extension/src/preview/previewHtml';
import { appendMark, readReview } from '../../extension/src/preview/reviewFile';
import { checkPreviewReport } from '../../server/src/runs/preview';
import type {
  FromPreview,
  PreviewRendering,
  PreviewReport,
  PreviewRow,
  ToPreview,
} from '../../server/src/protocol/preview';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--no-first-run',
];

const ROOT = join(__dirname, '..', '..');
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install -y chromium)`;

let browser: Browser;
let pageUrl: string;

before(async () => {
  if (skip) return;
  const built = spawnSync(process.execPath, [join(ROOT, 'scripts/copy-media.mjs')], { encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr);
  const media = (name: string) => pathToFileURL(join(ROOT, 'media', name)).href;
  const html = renderPreviewHtml({
    cspSource: 'file:',
    nonce: makeNonce(),
    script: media('build/preview.js'),
    style: media('preview.css'),
  });
  const dir = mkdtempSync(join(tmpdir(), 'preview-page-'));
  writeFileSync(join(dir, 'preview.html'), html);
  pageUrl = pathToFileURL(join(dir, 'preview.html')).href;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});
after(async () => {
  await browser?.close();
});

/** A chat row's rendering: a masked prompt, a trained answer, ChatML markers as special tokens. */
function rendering(words: string[], answer: string[], maxLength: number): PreviewRendering {
  const text = ['<|im_start|>', 'user\n', ...words, '<|im_end|>', '\n', '<|im_start|>', 'assistant\n', ...answer];
  text.push('<|im_end|>');
  const promptEnd = text.length - answer.length - 1;
  const kept = Math.min(text.length, maxLength);
  const shown = Math.min(text.length, maxLength + 32);
  return {
    ids: text.slice(0, shown).map((_, i) => 100 + i),
    tokens: text.slice(0, shown),
    text: text.slice(0, shown),
    trained: text.slice(0, shown).map((_, i) => i >= promptEnd),
    special: text.slice(0, shown).map((t) => t.startsWith('<|')),
    token_count: text.length,
    trained_count: Math.max(0, kept - promptEnd),
    truncated_at: text.length > maxLength ? maxLength : null,
    dropped: kept <= promptEnd + 1,
  };
}

function report(rows = 40, maxLength = 24): PreviewReport {
  const all: PreviewRow[] = Array.from({ length: rows }, (_, index) => {
    const words = Array.from({ length: index % 7 === 0 ? 30 : 4 }, (_, k) => `w${index}_${k} `);
    const r = rendering(words, [`answer `, `${index}`], maxLength);
    return {
      index,
      content_hash: createHash('sha256').update(`row ${index}`).digest('hex'),
      duplicate_of: null,
      error: null,
      rendering: r,
      own_template:
        index === 1 ? { ...r, tokens: ['<s>', ...r.tokens], text: ['<s>', ...r.text], first_difference: 0 } : null,
    };
  });
  const sample = [3, 8, 15, 22, 31];
  const out: PreviewReport = {
    dataset: '/data/train.jsonl',
    format: 'chat',
    total_rows: rows,
    max_length: maxLength,
    train_on_prompt: false,
    chat_template: 'chatml',
    tokenizer_template: 'differs',
    tokenizer: '/models/tiny',
    seed: 0,
    first: [0, 1, 2],
    sample,
    notes: ["data.chat_template chatml differs from the template in the model's tokenizer_config.json"],
    located: [],
    rows: all.filter((r) => r.index <= 2 || sample.includes(r.index)),
  };
  const checked = checkPreviewReport(out);
  assert.ok(checked.ok, checked.ok ? '' : checked.message);
  return out;
}

/** Opens the page; the stand-in API appends each posted mark to `reviewFile` (as the extension does). */
async function openPreview(reviewFile: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || /Content Security Policy/.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  await page.exposeFunction('hostReceive', (message: FromPreview) => {
    if (message.type === 'mark')
      appendMark(reviewFile, { row: message.row, hash: message.hash, verdict: message.verdict, time: 'now' });
  });
  await page.addInitScript(`
    window.posted = [];
    window.acquireVsCodeApi = () => ({ postMessage: (m) => { window.posted.push(m); window.hostReceive(m); }, getState: () => window.state, setState: (s) => { window.state = s; } });
  `);
  await page.goto(pageUrl);
  await page.waitForFunction(() => (window as unknown as { posted: { type: string }[] }).posted.length > 0);
  return { page, problems };
}

const send = (page: Page, message: ToPreview) => page.evaluate((m) => window.postMessage(m, '*'), message);

function show(r: PreviewReport, reviewFile: string, focusRow: number | null = null): ToPreview {
  return {
    type: 'show',
    report: r,
    notes: ['mask_history: true is approximated'],
    marks: [...readReview(reviewFile).marks.values()],
    reviewFile,
    configUri: 'file:///ws/train.finetune.yaml',
    focusRow,
  };
}

test(
  "rows render with masked, trained and special tokens, the cut and the model's own template",
  { skip },
  async () => {
    const reviewFile = join(mkdtempSync(join(tmpdir(), 'review-')), 'train.review.jsonl');
    const { page, problems } = await openPreview(reviewFile);
    const r = report();
    await send(page, show(r, reviewFile));
    await page.waitForSelector('#row-0');
    assert.deepEqual(await page.$$eval('#rows .row', (rows) => rows.map((e) => e.id)), ['row-0', 'row-1', 'row-2']);
    const row0 = await page.$eval('#row-0', (e) => ({
      masked: e.querySelectorAll('.tok.masked').length,
      trained: Array.from(e.querySelectorAll('.tok.trained'), (t) => t.textContent),
      special: Array.from(e.querySelectorAll('.tok.special'), (t) => t.textContent),
      cut: e.querySelector('.cut')?.textContent ?? null,
      past: e.querySelectorAll('.tok.past').length,
      selected: e.getAttribute('aria-selected'),
    }));
    const expected = r.rows[0]!.rendering!;
    assert.equal(row0.masked, expected.trained.filter((t) => !t).length);
    assert.equal(row0.trained.length, expected.trained.filter(Boolean).length);
    assert.ok(row0.special.includes('<|im_start|>'));
    assert.equal(row0.cut, '✂ max_length 24: the rest is cut');
    assert.equal(row0.past, Math.min(expected.ids.length, 24 + 32) - 24);
    assert.equal(row0.selected, 'true');
    const own = await page.$eval('#row-1 .own', (e) => ({
      title: e.querySelector('.own-title')?.textContent,
      diff: e.querySelector('.tok.diff')?.textContent,
    }));
    assert.match(own.title ?? '', /differs from token 0/);
    assert.equal(own.diff, '<s>');
    assert.match(await page.$eval('#notes', (e) => e.textContent ?? ''), /mask_history: true is approximated/);
    // Text from the dataset is text: a row holding markup does not become markup.
    assert.equal(await page.$$eval('#rows script, #rows img', (e) => e.length), 0);
    assert.deepEqual(problems, []);
    await page.close();
  },
);

test('the spot check is walked and marked with the keyboard, and the review survives a reload', { skip }, async () => {
  const reviewFile = join(mkdtempSync(join(tmpdir(), 'review-')), 'train.review.jsonl');
  const r = report();
  const first = await openPreview(reviewFile);
  await send(first.page, show(r, reviewFile));
  await first.page.waitForSelector('#row-0');
  await first.page.keyboard.press('s');
  await first.page.waitForSelector('#row-3.selected');
  assert.match(await first.page.$eval('#summary', (e) => e.textContent ?? ''), /^checked 0 of 5, bad 0$/);
  await first.page.keyboard.press('g'); // row 3 good, moves to 8
  await first.page.keyboard.press('b'); // row 8 bad, moves to 15
  await first.page.keyboard.press('j'); // skip 15
  await first.page.keyboard.press('u'); // row 22 unsure, moves to 31
  await first.page.keyboard.press('k'); // back to 22
  assert.match(await first.page.$eval('#summary', (e) => e.textContent ?? ''), /^checked 3 of 5, bad 1, unsure 1$/);
  assert.equal(await first.page.$eval('#row-8 .verdict', (e) => e.textContent), 'bad');
  const posted = await first.page.evaluate(() =>
    (window as unknown as { posted: FromPreview[] }).posted.filter((m) => m.type === 'mark'),
  );
  assert.deepEqual(
    posted.map(
      (m) => m.type === 'mark' && [m.row, m.verdict, m.hash === r.rows.find((x) => x.index === m.row)!.content_hash],
    ),
    [
      [3, 'good', true],
      [8, 'bad', true],
      [22, 'unsure', true],
    ],
  );
  assert.deepEqual(first.problems, []);
  await first.page.close();

  // The file holds one line per mark; a new page (a reloaded window) shows the same review from it.
  assert.equal(readFileSync(reviewFile, 'utf8').trim().split('\n').length, 3);
  const second = await openPreview(reviewFile);
  await send(second.page, show(r, reviewFile, 8));
  await second.page.waitForSelector('#row-8.selected');
  assert.match(await second.page.$eval('#summary', (e) => e.textContent ?? ''), /^checked 3 of 5, bad 1, unsure 1$/);
  assert.equal(await second.page.$eval('#row-3 .verdict', (e) => e.textContent), 'good');
  // Remarking a row: the latest line wins.
  await second.page.keyboard.press('g');
  await second.page.waitForFunction(() => document.querySelector('#summary')?.textContent?.includes('bad 0'));
  // r asks the extension to render the rows again.
  await second.page.keyboard.press('r');
  assert.ok(
    await second.page.evaluate(() =>
      (window as unknown as { posted: FromPreview[] }).posted.some((m) => m.type === 'reload'),
    ),
  );
  await second.page.close();

  // A row whose content changed since its mark is not counted: its mark is stale.
  const changed = report();
  changed.rows.find((x) => x.index === 3)!.content_hash = 'f'.repeat(64);
  const third = await openPreview(reviewFile);
  await send(third.page, show(changed, reviewFile));
  await third.page.waitForSelector('#row-0');
  assert.match(
    await third.page.$eval('#summary', (e) => e.textContent ?? ''),
    /^checked 2 of 5, bad 0, unsure 1 \(1 marks are for rows that changed since\)$/,
  );
  await third.page.close();
});
