import type { Range } from 'vscode-languageserver-types';
import { fallbackRange, findPair, keyRange, valueRange, type ConfigDocument, type NodePath } from '../document/configDocument';
import type { ConfigEdit, QuickFix } from '../edits/types';
import type { TrainingPlan } from '../plan/types';

/** Whether the config itself writes a key at `path` (as opposed to the plan's default applying). */
export function has(doc: ConfigDocument, path: NodePath): boolean {
  return findPair(doc, path) !== undefined;
}

/**
 * Where a finding about `path` points: its value when written; else the nearest written ancestor key; else the
 * first written `alternatives` (e.g. `data.max_length` for checkpointing), then `method`; else the first key.
 * Never the whole document.
 */
export function anchor(doc: ConfigDocument, path: NodePath, ...alternatives: NodePath[]): Range {
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
  return fix(`Set ${String(path[path.length - 1])}: ${show(value)}`, [set(path, value)], isPreferred);
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

/** Numbers as people write them in configs: `2e-4`, `0.03`, `1,200`. */
export function show(value: unknown): string {
  if (typeof value !== 'number') return String(value);
  if (Number.isInteger(value)) return Math.abs(value) >= 10000 ? value.toLocaleString('en-US') : String(value);
  if (Math.abs(value) < 1e-3) return value.toExponential().replace(/\.?0+e/, 'e').replace('e-0', 'e-');
  return String(Number(value.toPrecision(4)));
}

/** `3, 17 and 40` for the first lines of a count. */
export function listLines(lines: Array<number | undefined>, total: number): string {
  const shown = lines.filter((n): n is number => n !== undefined);
  if (shown.length === 0) return '';
  const text = shown.length === 1 ? String(shown[0]) : `${shown.slice(0, -1).join(', ')} and ${shown[shown.length - 1]}`;
  return total > shown.length ? `${text}, ...` : text;
}

export function plural(count: number, word: string, pluralWord = `${word}s`): string {
  return `${show(count)} ${count === 1 ? word : pluralWord}`;
}
