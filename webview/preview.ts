/**
 * The training-data preview page (bundled into media/build/preview.js). It shows the rows the trainer's preview verb
 * rendered: each token trained or masked, special tokens, the max_length cut, the model's own template beside the
 * config's; and the spot checks: a seeded sample walked with the keyboard, each row marked good / bad / unsure with
 * g / b / u, the marks sent to the extension (which appends them to `<dataset>.review.jsonl`). Text goes in through
 * textContent only: a dataset's contents never become markup.
 */
import {
  VERDICT_KEYS,
  reviewSummary,
  visibleToken,
  type FromPreview,
  type PreviewPageState,
  type PreviewRendering,
  type PreviewReport,
  type PreviewRow,
  type ReviewMark,
  type ToPreview,
} from '../server/src/protocol/preview';

declare function acquireVsCodeApi(): {
  postMessage(message: FromPreview): void;
  getState(): PreviewPageState | undefined;
  setState(state: PreviewPageState): void;
};

const vscode = acquireVsCodeApi();
/** A row not selected shows this many tokens; the selected one shows all the verb sent. */
const COLLAPSED_TOKENS = 160;

interface View {
  configUri: string;
  report: PreviewReport | null;
  notes: string[];
  marks: Map<number, ReviewMark>;
  reviewFile: string;
  mode: 'first' | 'sample';
  selected: number | null;
}

const saved = vscode.getState();
const view: View = {
  configUri: saved?.configUri ?? '',
  report: null,
  notes: [],
  marks: new Map(),
  reviewFile: '',
  mode: saved?.mode ?? 'first',
  selected: saved?.selected ?? null,
};

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function byId(id: string): HTMLElement {
  return document.getElementById(id)!;
}

/** The rows of the current mode, in order. */
function rowsShown(): PreviewRow[] {
  const report = view.report;
  if (!report) return [];
  const wanted = new Set(view.mode === 'first' ? report.first : report.sample);
  return report.rows.filter((r) => wanted.has(r.index));
}

function sampleRows(): PreviewRow[] {
  const report = view.report;
  if (!report) return [];
  const sample = new Set(report.sample);
  return report.rows.filter((r) => sample.has(r.index));
}

function tokenSpans(r: PreviewRendering, limit: number, diffAt: number | null): HTMLElement {
  const box = el('div', 'tokens');
  const end = Math.min(r.ids.length, limit);
  for (let i = 0; i < end; i++) {
    if (r.truncated_at !== null && i === r.truncated_at)
      box.append(el('span', 'cut', `✂ max_length ${r.truncated_at}: the rest is cut`));
    const classes = ['tok', r.trained[i] ? 'trained' : 'masked'];
    if (r.special[i]) classes.push('special');
    if (r.truncated_at !== null && i >= r.truncated_at) classes.push('past');
    if (diffAt !== null && i === diffAt) classes.push('diff');
    const span = el('span', classes.join(' '), visibleToken(r.text[i] ?? ''));
    span.title = `${i}: ${r.tokens[i]} (id ${r.ids[i]}) ${r.trained[i] ? 'trained' : 'masked'}`;
    box.append(span);
    if ((r.text[i] ?? '').includes('\n')) box.append(el('br'));
  }
  if (end < r.ids.length) box.append(el('span', 'more', `… ${r.ids.length - end} more tokens (select the row)`));
  return box;
}

function rowFacts(row: PreviewRow): string {
  const r = row.rendering;
  if (!r) return 'not rendered';
  const parts = [`${r.token_count} tokens`, `${r.trained_count} trained`];
  if (r.truncated_at !== null) parts.push(`truncated at ${r.truncated_at}`);
  if (r.dropped) parts.push('dropped: nothing to train within max_length');
  if (row.duplicate_of !== null) parts.push(`duplicate of row ${row.duplicate_of}`);
  return parts.join(' · ');
}

function verdictBadge(row: PreviewRow): HTMLElement | null {
  const mark = view.marks.get(row.index);
  if (!mark) return null;
  if (mark.hash !== row.content_hash) return el('span', 'verdict stale', 'marked before the row changed');
  return el('span', `verdict verdict-${mark.verdict}`, mark.verdict);
}

function ownTemplate(row: PreviewRow, selected: boolean): HTMLElement | null {
  const own = row.own_template;
  if (!own) return null;
  const box = el('div', 'own');
  if ('error' in own) {
    box.append(el('div', 'own-title', `The model's own template refuses this row: ${own.error}`));
    return box;
  }
  const same = own.first_difference === null;
  box.append(
    el(
      'div',
      'own-title',
      same
        ? "The model's own template (tokenizer_config.json): the same tokens"
        : `The model's own template (tokenizer_config.json) differs from token ${own.first_difference}:`,
    ),
  );
  if (!same) box.append(tokenSpans(own, selected ? Infinity : COLLAPSED_TOKENS, own.first_difference));
  return box;
}

function rowElement(row: PreviewRow): HTMLElement {
  const selected = row.index === view.selected;
  const article = el('article', `row${selected ? ' selected' : ''}`);
  article.id = `row-${row.index}`;
  article.setAttribute('role', 'option');
  article.setAttribute('aria-selected', String(selected));
  article.dataset.index = String(row.index);
  const head = el('div', 'row-head');
  head.append(el('span', 'row-index', `row ${row.index}`), el('span', 'muted', rowFacts(row)));
  const badge = verdictBadge(row);
  if (badge) head.append(badge);
  article.append(head);
  if (row.error) article.append(el('div', 'row-error', `The trainer refuses this row: ${row.error}`));
  const diffAt = row.own_template && 'first_difference' in row.own_template ? row.own_template.first_difference : null;
  if (row.rendering) article.append(tokenSpans(row.rendering, selected ? Infinity : COLLAPSED_TOKENS, diffAt));
  const own = ownTemplate(row, selected);
  if (own) article.append(own);
  article.addEventListener('click', () => select(row.index));
  return article;
}

function renderHeader(): void {
  const report = view.report!;
  const header = byId('header');
  header.replaceChildren();
  const template = report.format === 'chat' ? ` · chat_template ${shortTemplate(report.chat_template)}` : '';
  header.append(
    el(
      'div',
      'title',
      `${report.dataset} · ${report.total_rows} rows · ${report.format}${template} · max_length ${report.max_length}` +
        ` · train_on_prompt ${report.train_on_prompt}`,
    ),
  );
  const tabs = el('div', 'tabs');
  tabs.setAttribute('role', 'tablist');
  for (const [mode, label] of [
    ['first', `First rows (${report.first.length})`],
    ['sample', `Spot check (${report.sample.length})`],
  ] as const) {
    const tab = el('button', `tab${view.mode === mode ? ' active' : ''}`, label);
    tab.setAttribute('role', 'tab');
    tab.setAttribute('aria-selected', String(view.mode === mode));
    tab.id = `tab-${mode}`;
    tab.addEventListener('click', () => setMode(mode));
    tabs.append(tab);
  }
  const s = reviewSummary(sampleRows(), view.marks);
  const summary = el(
    'span',
    'summary',
    `checked ${s.checked} of ${report.sample.length}, bad ${s.bad}` +
      (s.unsure ? `, unsure ${s.unsure}` : '') +
      (s.stale ? ` (${s.stale} marks are for rows that changed since)` : ''),
  );
  summary.id = 'summary';
  summary.title = view.reviewFile;
  tabs.append(summary);
  header.append(tabs);
}

function shortTemplate(template: string | null): string {
  if (!template) return 'none';
  return template.includes('{{') || template.includes('{%') ? '(inline Jinja)' : template;
}

function render(): void {
  if (!view.report) return;
  renderHeader();
  const notes = byId('notes');
  const all = [...view.report.notes, ...view.notes];
  notes.hidden = all.length === 0;
  notes.replaceChildren(...all.map((n) => el('li', undefined, n)));
  const rows = rowsShown();
  if (view.selected === null || !rows.some((r) => r.index === view.selected)) view.selected = rows[0]?.index ?? null;
  const list = byId('rows');
  list.replaceChildren(...rows.map(rowElement));
  if (rows.length === 0)
    list.append(el('p', 'muted', view.mode === 'sample' ? 'No sample: the dataset is empty.' : 'No rows.'));
  saveState();
  document.getElementById(`row-${view.selected}`)?.scrollIntoView({ block: 'nearest' });
}

function saveState(): void {
  vscode.setState({ configUri: view.configUri, mode: view.mode, selected: view.selected });
}

function setMode(mode: 'first' | 'sample'): void {
  view.mode = mode;
  view.selected = null;
  render();
}

function select(index: number): void {
  view.selected = index;
  render();
}

function move(step: number): void {
  const rows = rowsShown();
  const at = rows.findIndex((r) => r.index === view.selected);
  const next = rows[Math.max(0, Math.min(rows.length - 1, at + step))];
  if (next) select(next.index);
}

function mark(verdict: ReviewMark['verdict']): void {
  const row = view.report?.rows.find((r) => r.index === view.selected);
  if (!row) return;
  view.marks.set(row.index, { row: row.index, hash: row.content_hash, verdict, time: new Date().toISOString() });
  vscode.postMessage({ type: 'mark', row: row.index, hash: row.content_hash, verdict });
  move(1);
  render();
}

const KEYS: Record<string, () => void> = {
  ArrowDown: () => move(1),
  j: () => move(1),
  ArrowUp: () => move(-1),
  k: () => move(-1),
  Home: () => move(-Infinity),
  End: () => move(Infinity),
  PageDown: () => move(10),
  PageUp: () => move(-10),
  f: () => setMode('first'),
  s: () => setMode('sample'),
  // Render again (the dataset or the config changed): the extension runs the trainer's verb again.
  r: () => vscode.postMessage({ type: 'reload' }),
};

document.addEventListener('keydown', (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || !view.report) return;
  const verdict = VERDICT_KEYS[event.key];
  const action = verdict ? () => mark(verdict) : KEYS[event.key];
  if (!action) return;
  event.preventDefault();
  action();
});

function showMessage(cls: string, text: string): void {
  const list = byId('rows');
  list.replaceChildren(el('p', cls, text));
}

window.addEventListener('message', (event: MessageEvent<ToPreview>) => {
  const message = event.data;
  if (message.type === 'loading') showMessage('muted', message.message);
  else if (message.type === 'problem') showMessage('problem', message.message);
  else if (message.type === 'marks') {
    view.marks = new Map(message.marks.map((m) => [m.row, m]));
    render();
  } else if (message.type === 'show') {
    view.report = message.report;
    view.configUri = message.configUri;
    view.notes = message.notes;
    view.marks = new Map(message.marks.map((m) => [m.row, m]));
    view.reviewFile = message.reviewFile;
    if (message.focusRow !== null) {
      view.mode = message.report.first.includes(message.focusRow) ? 'first' : 'sample';
      view.selected = message.focusRow;
    }
    render();
    byId('rows').focus();
  }
});

vscode.postMessage({ type: 'ready' });
