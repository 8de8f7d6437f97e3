/**
 * A rule finding on an axolotl or LLaMA-Factory plan, said in that dialect: the keys its message and fix titles name
 * (placeholders of plan paths, keyNames.ts) are spelled as the dialect's keys (`micro_batch_size`, `lora_r`,
 * `cutoff_len`), its fixes edit those keys (dialectEdits), and it is labelled as LoRA Lens's advice, not the tool's
 * rule. A fix that no dialect key can carry is dropped.
 */
import type { NodePath } from '../document/configDocument';
import { dialectEdits, displayName, type PlanSourceMap } from '../dialects/normalize/sourceMap';
import type { ConfigEdit, QuickFix } from '../edits/types';
import type { Severity } from '../document/diagnostics';
import { renderKeyNames } from './keyNames';
import type { Finding } from './types';
import { setTitle, show } from './util';

/** The dialect a finding is said in: its display name and where each plan field comes from in it. */
export interface FindingDialect {
  /** The tool's name as people write it (`axolotl`, `LLaMA-Factory`). */
  displayName: string;
  sources: PlanSourceMap;
}

/** The dialect's key for a plan path, when one decides it; undefined keeps our spelling. */
export function dialectKeyName(sources: PlanSourceMap, planPath: string): string | undefined {
  const source = sources[planPath];
  return source?.docPath ? source.name : undefined;
}

/** Rules that report a fact LoRA Lens found (a model, a GPU, a file, the memory verdict), not advice on a value. */
const FACT_RULES = new Set(['model-unknown', 'gpu-unknown', 'memory-no-fit', 'dataset']);

/** Rules whose error means the run fails (out of memory, a data file that is not there), whichever tool runs it. */
const FAILING_RULES = new Set(['memory-no-fit', 'dataset']);

/**
 * The finding in the dialect's words; fixes no dialect key can carry are left out. Our advice is at most a warning
 * here: the tool accepts the file, and an error would say it stops (only a real failure does). The message leads with
 * the problem (the Problems view's source column already says lora-lens); that the tool accepts the value is in the
 * diagnostic's data (`toolAccepts`: the tool's name) for the editor to show beside it.
 */
export function toDialectFinding(
  ruleId: string,
  finding: Finding,
  dialect: FindingDialect,
  severity: Severity,
): Finding {
  const spell = (planPath: string) => dialectKeyName(dialect.sources, planPath);
  const fixes = (finding.fixes ?? [])
    .map((f) => dialectFix(f, dialect.sources, spell))
    .filter((f): f is QuickFix => f !== null);
  const demoted = severity === 'error' && !FAILING_RULES.has(ruleId) ? { severity: 'warning' as const } : {};
  const accepts = FACT_RULES.has(ruleId) ? {} : { toolAccepts: dialect.displayName };
  return {
    ...finding,
    ...demoted,
    message: renderKeyNames(finding.message, spell),
    data: { ...finding.data, ...accepts },
    fixes,
  };
}

function dialectFix(
  quickFix: QuickFix,
  sources: PlanSourceMap,
  spell: (planPath: string) => string | undefined,
): QuickFix | null {
  const edits: ConfigEdit[] = [];
  for (const edit of quickFix.edits) {
    const translated = dialectEdit(edit, sources);
    if (translated.length === 0) return null;
    edits.push(...translated);
  }
  return { ...quickFix, title: dialectTitle(quickFix, edits) ?? renderKeyNames(quickFix.title, spell), edits };
}

/**
 * A one-key fix titled `Set <key>: <value>` (setFix) says what it writes in the dialect, which may be another key
 * or value (`lora_target_linear: true` for all-linear, LLaMA-Factory's `lora_target: all`).
 */
function dialectTitle(quickFix: QuickFix, edits: ConfigEdit[]): string | undefined {
  const [planEdit] = quickFix.edits;
  if (
    quickFix.edits.length !== 1 ||
    planEdit?.kind !== 'set' ||
    quickFix.title !== setTitle(planEdit.path, planEdit.value)
  )
    return undefined;
  const sets = edits.filter((e): e is Extract<ConfigEdit, { kind: 'set' }> => e.kind === 'set');
  if (sets.length !== edits.length) return undefined;
  return `Set ${sets.map((e) => `${displayName(e.path)}: ${show(e.value)}`).join(' and ')}`;
}

function dialectEdit(edit: ConfigEdit, sources: PlanSourceMap): ConfigEdit[] {
  const planPath = edit.path.map(String);
  if (edit.kind === 'set') {
    // modelFieldEdit writes `model: { name_or_path, field }` for a string model: in a dialect each field is a key.
    if (
      planPath.length === 1 &&
      planPath[0] === 'model' &&
      edit.value !== null &&
      typeof edit.value === 'object' &&
      !Array.isArray(edit.value)
    ) {
      const fields = Object.entries(edit.value as Record<string, unknown>).filter(([key]) => key !== 'name_or_path');
      const parts = fields.map(([key, value]) => dialectEdits(sources, ['model', key], value));
      return parts.some((p) => p.length === 0)
        ? []
        : parts.flat().map((e) => ({ kind: 'set', path: e.path, value: e.value }));
    }
    return dialectEdits(sources, planPath, edit.value).map((e) => ({ kind: 'set', path: e.path, value: e.value }));
  }
  const source = sources[planPath.join('.')];
  if (!source?.docPath || source.transform) return [];
  const path: NodePath = source.docPath;
  return edit.kind === 'remove' ? [{ kind: 'remove', path }] : [];
}
