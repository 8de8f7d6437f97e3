/**
 * PlanSourceMap: for each TrainingPlan field a dialect normaliser filled, the dialect's own key that decides it.
 * Rules are written against plan paths (['training', 'learning_rate']); with this map the wiring puts their
 * diagnostics on the dialect's key (['learning_rate']), names it in messages and turns quick-fix edits of plan
 * paths into edits of the dialect's keys (`dialectEdits`).
 */
import { isAbsolute } from 'node:path';
import type { NodePath } from '../../document/configDocument';

export interface PlanSource {
  /** The dialect key path in the document, or null when no key decides the field (the tool fixes it). */
  docPath: NodePath | null;
  /** The key as the dialect's users write it, for messages: `micro_batch_size`, `datasets[0].path`. */
  name: string;
  /** The key is written in the document (false: the plan holds the tool's default; a fix would add the key). */
  present: boolean;
  /**
   * How a plan value becomes the dialect's value when a fix edits this field. Absent: the same value.
   * 'invert': a boolean written negated (LLaMA-Factory's `disable_gradient_checkpointing`).
   * 'axolotl-targets': 'all-linear' is `lora_target_linear: true`, a list is `lora_target_modules`.
   * 'llama-factory-targets': 'all-linear' is `lora_target: all`, a list is written comma-separated.
   * 'none': no single dialect key can take the plan's value (a derived or split field); fixes are dropped.
   * 'file': a file path the plan holds resolved (absolute); a fix writes the relative path as the document spells it,
   * never the plan's absolute one (the dataset rule's did-you-mean).
   */
  transform?: 'invert' | 'axolotl-targets' | 'llama-factory-targets' | 'file' | 'none';
}

/** Keyed by the plan path joined with dots: 'training.learning_rate', 'lora.r'. */
export type PlanSourceMap = Record<string, PlanSource>;

/**
 * The one source-map path that is not a plan field: the share (a fraction) or count of the training rows a tool
 * holds out for evaluation (axolotl's `val_set_size`, LLaMA-Factory's `val_size`; both default to 0, no split).
 * The bundled trainer reads an eval file (`data.eval`) instead, so the plan has no field for it; it is recorded
 * here so the eval rules can see that the file is evaluated, name the key and fix it. Present only when above 0.
 */
export const EVAL_SPLIT = 'data.eval_split';

export type PlanPath = readonly string[];

/** Dot key of a plan path. */
export function planKey(path: PlanPath): string {
  return path.join('.');
}

/** The display name of a dialect path: datasets[0].path, fsdp_config.offload_params. */
export function displayName(path: NodePath): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

/** Records where a plan field comes from: `present` is read from the document value. */
export class SourceRecorder {
  readonly map: PlanSourceMap = {};

  constructor(private readonly root: Record<string, unknown>) {}

  /** The tool's held-out eval split (EVAL_SPLIT) at `key`: present when its value is a number above 0. */
  addEvalSplit(key: string): void {
    const value = this.root[key];
    const share = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
    this.map[EVAL_SPLIT] = { docPath: [key], name: key, present: Number.isFinite(share) && share > 0 };
  }

  /** `planPath` is decided by `docPath`; present when the document holds a non-null value there. */
  add(
    planPath: PlanPath,
    docPath: NodePath | null,
    extra: Pick<PlanSource, 'transform'> & { name?: string } = {},
  ): void {
    const present =
      docPath !== null && valueAt(this.root, docPath) !== undefined && valueAt(this.root, docPath) !== null;
    const source: PlanSource = {
      docPath,
      name: extra.name ?? (docPath ? displayName(docPath) : '(set by the tool)'),
      present,
    };
    if (extra.transform) source.transform = extra.transform;
    this.map[planKey(planPath)] = source;
  }
}

/** The value at a path of a plain YAML value, or undefined. */
export function valueAt(root: unknown, path: NodePath): unknown {
  let node: unknown = root;
  for (const segment of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}

/** The source of a plan path, or of its nearest recorded parent ('lora.target_modules.2' → 'lora.target_modules'). */
export function sourceOf(map: PlanSourceMap, path: PlanPath): PlanSource | undefined {
  for (let n = path.length; n > 0; n--) {
    const hit = map[planKey(path.slice(0, n))];
    if (hit) return hit;
  }
  return undefined;
}

/**
 * A fix's edit of a plan field as edits of the dialect document: [] when the field has no dialect key, or when
 * its value cannot be written to one key (the fix should then be dropped, not applied to our dialect's path).
 */
export function dialectEdits(
  map: PlanSourceMap,
  planPath: PlanPath,
  value: unknown,
): Array<{ path: NodePath; value: unknown }> {
  const source = map[planKey(planPath)];
  if (!source || !source.docPath || source.transform === 'none') return [];
  switch (source.transform) {
    case 'invert':
      return typeof value === 'boolean' ? [{ path: source.docPath, value: !value }] : [];
    case 'axolotl-targets':
      if (value === 'all-linear') return [{ path: ['lora_target_linear'], value: true }];
      return Array.isArray(value)
        ? [
            { path: ['lora_target_modules'], value },
            { path: ['lora_target_linear'], value: false },
          ]
        : [];
    case 'llama-factory-targets':
      if (value === 'all-linear') return [{ path: source.docPath, value: 'all' }];
      return Array.isArray(value) ? [{ path: source.docPath, value: value.join(',') }] : [];
    case 'file':
      return typeof value === 'string' && !isAbsolute(value) ? [{ path: source.docPath, value }] : [];
    default:
      return [{ path: source.docPath, value }];
  }
}
