/**
 * The run panel's Evaluation section (issue 24): for one run, the metrics of base against tuned with the change,
 * and each example's prompt, reference, base answer and tuned answer side by side with the words that differ
 * marked, filtered to the examples that got worse on demand; for Compare, one metrics table with a column per run.
 * The figures come from the run's eval/ folder (server/src/runs/evalResults.ts); the logic is in evalView.ts.
 */
import type { EvaluationView } from '../extension/src/runs/panelProtocol';
import {
  changeClass,
  compareMetricRows,
  figure,
  shownExamples,
  verdictOf,
  wordDiff,
  type DiffPiece,
} from '../extension/src/runs/evalView';

function el(tag: string, className: string, text: string): HTMLElement {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
}

function metricsTable(evaluation: EvaluationView): HTMLElement {
  const table = document.createElement('table');
  table.className = 'eval-metrics';
  const head = document.createElement('tr');
  head.append(...['metric', 'base', 'tuned', 'change', 'n'].map((h) => el('th', '', h)));
  table.appendChild(head);
  for (const row of evaluation.metrics) {
    const tr = document.createElement('tr');
    tr.dataset.metric = row.metric;
    tr.append(
      el('td', 'name', row.metric),
      el('td', 'metric', figure(row.base)),
      el('td', 'metric', figure(row.tuned)),
      el('td', `metric change change-${changeClass(row)}`, figure(row.change, true)),
      el('td', 'metric muted', row.n === null ? '-' : String(row.n)),
    );
    table.appendChild(tr);
  }
  return table;
}

function answer(pieces: DiffPiece[], side: 'base' | 'tuned'): HTMLElement {
  const box = el('div', `eval-answer eval-${side}`, '');
  for (const piece of pieces)
    box.appendChild(
      piece.changed
        ? el('mark', side === 'base' ? 'removed' : 'added', piece.text)
        : (document.createTextNode(piece.text) as unknown as HTMLElement),
    );
  return box;
}

function exampleRow(example: EvaluationView['examples'][number]): HTMLElement {
  const row = el('div', `eval-example verdict-${verdictOf(example)}`, '');
  row.dataset.row = String(example.row);
  const diff = wordDiff(example.base, example.tuned);
  const cell = (title: string, body: HTMLElement) => {
    const box = el('div', 'eval-cell', '');
    box.append(el('div', 'eval-cell-title', title), body);
    return box;
  };
  row.append(
    cell(`#${example.row} prompt`, el('div', 'eval-text', example.prompt)),
    cell('reference', el('div', 'eval-text', example.reference)),
    cell(`base · F1 ${example.baseF1.toFixed(1)}`, answer(diff.base, 'base')),
    cell(`tuned · F1 ${example.tunedF1.toFixed(1)}`, answer(diff.tuned, 'tuned')),
  );
  return row;
}

/** One run's section; `onlyWorse` is the filter's state and `onFilter` its change. */
export function renderRunEvaluation(
  box: HTMLElement,
  evaluation: EvaluationView,
  onlyWorse: boolean,
  onFilter: (onlyWorse: boolean) => void,
): void {
  box.replaceChildren(el('div', 'diff-title', 'Evaluation: tuned against base'), metricsTable(evaluation));
  const f = evaluation.forgetting;
  if (f)
    box.appendChild(
      el(
        'p',
        `eval-forgetting ${f.passed ? '' : 'warn'}`,
        `Forgetting check: perplexity on general text ${figure(f.basePerplexity)} → ${figure(f.tunedPerplexity)} ` +
          `(${figure(f.changePercent, true)}%; ${f.passed ? 'within' : 'over'} the ${f.thresholdPercent ?? 5}% accepted)`,
      ),
    );
  const filter = document.createElement('label');
  filter.className = 'eval-filter';
  const checkbox = document.createElement('input');
  checkbox.type = 'checkbox';
  checkbox.id = 'eval-only-worse';
  checkbox.checked = onlyWorse;
  checkbox.addEventListener('change', () => onFilter(checkbox.checked));
  filter.append(checkbox, document.createTextNode(` Only the ${evaluation.worse} example(s) that got worse`));
  const shown = shownExamples(evaluation, onlyWorse);
  const count = el(
    'span',
    'muted eval-count',
    `${shown.length} shown of ${evaluation.totalExamples}` +
      (evaluation.examples.length < evaluation.totalExamples
        ? ` (the first ${evaluation.examples.length} are loaded)`
        : ''),
  );
  const list = el('div', 'eval-examples', '');
  for (const example of shown) list.appendChild(exampleRow(example));
  box.append(filter, count, list);
}

/** Compare: the metrics of every run, a column each (tuned, and its change against that run's base). */
export function renderCompareEvaluation(
  box: HTMLElement,
  names: string[],
  evaluations: (EvaluationView | null)[],
): void {
  const rows = compareMetricRows(evaluations);
  const table = document.createElement('table');
  table.className = 'eval-compare';
  const head = document.createElement('tr');
  head.append(el('th', '', 'metric'), ...names.map((n) => el('th', '', n)));
  table.appendChild(head);
  for (const row of rows) {
    const tr = document.createElement('tr');
    tr.dataset.metric = row.metric;
    tr.appendChild(el('td', 'name', row.metric));
    for (const cell of row.cells) {
      const td = el('td', 'metric', cell ? figure(cell.tuned) : '-');
      if (cell?.change !== null && cell)
        td.appendChild(el('span', `change change-${changeClass(cell)}`, ` (${figure(cell.change, true)})`));
      tr.appendChild(td);
    }
    table.appendChild(tr);
  }
  const missing = evaluations.filter((e) => !e).length;
  box.replaceChildren(el('div', 'diff-title', 'Evaluation (tuned, change against its base)'), table);
  if (missing) box.appendChild(el('p', 'muted', `${missing} run(s) not evaluated yet: LoRA Lens: Evaluate Run.`));
}
