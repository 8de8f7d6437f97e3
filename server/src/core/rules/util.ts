import type { Range } from 'vscode-languageserver-types';
import {
  fallbackRange,
  findPair,
  keyRange,
  valueRange,
  type ConfigDocument,
  type NodePath,
} from '../document/configDocument';
import { EVAL_SPLIT, sourceOf, valueAt, type PlanSource, type PlanSourceMap } from '../dialects/normalize/sourceMap';
import type { ConfigEdit, QuickFix } from '../edits/types';
import type { TrainingPlan } from '../plan/types';
import { key, leaf } from './keyNames';

export { key, leaf };

/**
 * The source maps of dialect documents (axolotl, LLaMA-Factory) while the rules run on their plans: rules name plan
 * paths (['training', 'learning_rate']); through the map `has` and `anchor` answer for the dialect's own key
 * (`learning_rate`, `micro_batch_size`). Set by checkRules for the duration of one call.
 */
const PLAN_SOURCES = new WeakMap<ConfigDocument, PlanSourceMap>();

export function withPlanSources<T>(doc: ConfigDocument, sources: PlanSourceMap | undefined, run: () => T): T {
  if (!sources) return run();
  PLAN_SOURCES.set(doc, sources);
  try {
    return run();
  } finally {
    PLAN_SOURCES.delete(doc);
  }
}

/**
 * Where a finding about a plan field that the dialect has no key for would go: nowhere. The registry drops
 * findings placed here (a diagnostic about `hardware.gpu` in an axolotl file could name nothing the user wrote).
 */
export const UNPLACED: Range = { start: { line: -1, character: 0 }, end: { line: -1, character: 0 } };

export function isUnplaced(range: Range): boolean {
  return range.start.line < 0;
}

/** The dialect key of a plan path (an index past the recorded field is kept when the dialect value is a list). */
function dialectPath(doc: ConfigDocument, source: PlanSource, planPath: NodePath, recorded: number): NodePath | null {
  if (!source.docPath) return null;
  const rest = planPath.slice(recorded);
  if (rest.length === 0) return source.docPath;
  const longer = [...source.docPath, ...rest];
  return valueAt(doc.value, longer) !== undefined ? longer : source.docPath;
}

function sourceFor(sources: PlanSourceMap, path: NodePath): { source: PlanSource; depth: number } | undefined {
  const names = path.map(String);
  const source = sourceOf(sources, names);
  if (!source) return undefined;
  for (let depth = names.length; depth > 0; depth--)
    if (sources[names.slice(0, depth).join('.')] === source) return { source, depth };
  return undefined;
}

/** Whether the config itself writes a key at `path` (as opposed to the plan's default applying). */
export function has(doc: ConfigDocument, path: NodePath): boolean {
  const sources = PLAN_SOURCES.get(doc);
  if (sources) return sourceFor(sources, path)?.source.present === true;
  return findPair(doc, path) !== undefined;
}

/** The source-map path of a tool's held-out eval split (EVAL_SPLIT): the plan has no field for it. */
export const EVAL_SPLIT_PATH = EVAL_SPLIT.split('.');

/**
 * Whether the config's tool holds part of the training rows out for evaluation through one key (axolotl's
 * `val_set_size`, LLaMA-Factory's `val_size`), so advice can name that key; our dialect names an eval file instead.
 */
export function splitsForEval(doc: ConfigDocument): boolean {
  return Boolean(PLAN_SOURCES.get(doc)?.[EVAL_SPLIT]?.docPath);
}

/** Whether the run evaluates: an eval file, or a share of the training rows the tool holds out. */
export function evaluates(doc: ConfigDocument, plan: TrainingPlan): boolean {
  return plan.data.eval !== null || (splitsForEval(doc) && has(doc, EVAL_SPLIT_PATH));
}

/** A dialect document's range for a plan path: its key's value when written, null when the dialect has no key. */
function dialectRange(doc: ConfigDocument, sources: PlanSourceMap, path: NodePath): Range | 'absent' | null {
  const hit = sourceFor(sources, path);
  if (!hit || !hit.source.docPath) return null;
  if (!hit.source.present) return 'absent';
  const docPath = dialectPath(doc, hit.source, path, hit.depth);
  return docPath ? valueRange(doc, docPath) : null;
}

/** `anchor` for a dialect document: the dialect key, an alternative's, the method's, the first key; or UNPLACED. */
function dialectAnchor(doc: ConfigDocument, sources: PlanSourceMap, path: NodePath, alternatives: NodePath[]): Range {
  const own = dialectRange(doc, sources, path);
  if (own === null) return UNPLACED;
  if (own !== 'absent') return own;
  for (const alternative of [...alternatives, ['method']]) {
    const range = dialectRange(doc, sources, alternative);
    if (range !== null && range !== 'absent') return range;
  }
  return fallbackRange(doc);
}

/** The value range of `path`: for a dialect document the dialect key's (UNPLACED when it has none). */
export function placeAt(doc: ConfigDocument, path: NodePath): Range {
  const sources = PLAN_SOURCES.get(doc);
  return sources ? dialectAnchor(doc, sources, path, []) : valueRange(doc, path);
}

/**
 * Where a finding about `path` points: its value when written; else the nearest written ancestor key; else the
 * first written `alternatives` (e.g. `data.max_length` for checkpointing), then `method`; else the first key.
 * Never the whole document.
 */
export function anchor(doc: ConfigDocument, path: NodePath, ...alternatives: NodePath[]): Range {
  const sources = PLAN_SOURCES.get(doc);
  if (sources) return dialectAnchor(doc, sources, path, alternatives);
  if (has(doc, path)) return valueRange(doc, path);
  for (let depth = path.length - 1; depth > 0; depth--) {
    if (has(doc, path.slice(0, depth))) return keyRange(doc, path.slice(0, depth));
  }
  for (const alternative of [...alternatives, ['method']]) {
    if (has(doc, alternative)) return valueRange(doc, alternative);
  }
  return fallbackRange(doc);
}

export function set(path: NodePath, value: unknown): ConfigEdit {
  return { kind: 'set', path, value };
}

export function fix(title: string, edits: ConfigEdit[], isPreferred = false): QuickFix {
  return isPreferred ? { title, edits, isPreferred } : { title, edits };
}

/** A one-edit fix that sets `path` to `value`, titled after the key. */
export function setFix(path: NodePath, value: unknown, isPreferred = true): QuickFix {
  return fix(setTitle(path, value), [set(path, value)], isPreferred);
}

/**
 * The edit that sets a field of the model reference: in place for the object form; for `model: <id>` the string
 * becomes the object form, keeping the id.
 */
export function modelFieldEdit(doc: ConfigDocument, plan: TrainingPlan, field: string, value: unknown): ConfigEdit {
  const model = (doc.value as { model?: unknown } | undefined)?.model;
  if (model !== null && typeof model === 'object') return set(['model', field], value);
  return set(['model'], { name_or_path: plan.model.name_or_path, [field]: value });
}

/** `Set lora_alpha: 32`: the title of a fix that sets one key, its key named by the placeholder of its plan path. */
export function setTitle(path: NodePath, value: unknown): string {
  return `Set ${leaf(path.join('.'))}: ${show(value)}`;
}

/** Numbers as people write them in configs: `2e-4`, `0.03`, `1,200`. */
export function show(value: unknown): string {
  if (typeof value !== 'number') return String(value);
  if (Number.isInteger(value)) return Math.abs(value) >= 10000 ? value.toLocaleString('en-US') : String(value);
  if (Math.abs(value) < 1e-3)
    return value
      .toExponential()
      .replace(/\.?0+e/, 'e')
      .replace('e-0', 'e-');
  return String(Number(value.toPrecision(4)));
}

/** `3, 17 and 40` for the first lines of a count. */
export function listLines(lines: Array<number | undefined>, total: number): string {
  const shown = lines.filter((n): n is number => n !== undefined);
  if (shown.length === 0) return '';
  const text =
    shown.length === 1 ? String(shown[0]) : `${shown.slice(0, -1).join(', ')} and ${shown[shown.length - 1]}`;
  return total > shown.length ? `${text}, ...` : text;
}

export function plural(count: number, word: string, pluralWord = `${word}s`): string {
  return `${show(count)} ${count === 1 ? word : pluralWord}`;
}
