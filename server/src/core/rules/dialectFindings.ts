/**
 * A rule finding on an axolotl or LLaMA-Factory plan, said in that dialect: its message and fix titles name the
 * dialect's keys (`micro_batch_size`, `lora_r`, `cutoff_len`), its fixes edit those keys (dialectEdits), and it is
 * labelled as LoRA Lens's advice, not the tool's rule. A fix that no dialect key can carry is dropped.
 */
import type { NodePath } from '../document/configDocument';
import { dialectEdits, type PlanSourceMap } from '../dialects/normalize/sourceMap';
import type { ConfigEdit, QuickFix } from '../edits/types';
import type { Severity } from '../document/diagnostics';
import type { Finding } from './types';


/** How our rule messages spell two fields together, and the plan fields they stand for. */
const PHRASES: Array<{ text: string; fields: [string, string]; join: string }> = [
  { text: 'per-device batch × gradient accumulation', fields: ['training.per_device_train_batch_size', 'training.gradient_accumulation_steps'], join: ' × ' },
];

export interface DialectWording {
  /** The tool's name as people write it (`axolotl`, `LLaMA-Factory`). */
  displayName: string;
  rename: (text: string) => string;
  sources: PlanSourceMap;
}

/** The renaming of plan key names to the dialect's: dotted plan keys, then unambiguous leaf names with an underscore. */
export function dialectWording(displayName: string, sources: PlanSourceMap): DialectWording {
  const names = new Map<string, string>();
  const leafNames = new Map<string, string | null>();
  for (const [planKey, source] of Object.entries(sources)) {
    if (!source.docPath) continue;
    // A top-level key that is an English word (`model`, `method`, `data`) is prose in a message ("a base model").
    if (!/^[a-z]+$/.test(planKey)) names.set(planKey, source.name);
    const leaf = planKey.slice(planKey.lastIndexOf('.') + 1);
    if (leaf === source.name) continue;
    const seen = leafNames.get(leaf);
    leafNames.set(leaf, seen === undefined || seen === source.name ? source.name : null);
  }
  for (const [leaf, name] of leafNames) if (name && (leaf.includes('_') || leaf === 'r')) names.set(leaf, name);
  const words = [...names.keys()].sort((a, b) => b.length - a.length).map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  // A leaf is a whole word not inside a longer key (`r` in `lora.r` or `r = 16`, never the r of `rank`).
  const pattern = words.length > 0 ? new RegExp(`(?<![\\w.\\-\`])(${words.join('|')})(?![\\w\\-])`, 'g') : null;
  const rename = (text: string): string => {
    let out = text;
    for (const phrase of PHRASES) {
      const [a, b] = phrase.fields.map((f) => sources[f]);
      if (a?.docPath && b?.docPath) out = out.split(phrase.text).join(`${a.name}${phrase.join}${b.name}`);
    }
    if (!pattern) return out;
    return out.replace(pattern, (word: string, _g: string, offset: number, whole: string) => {
      // A bare `r` only where it is the rank: next to `/`, `×`, `=` or `:` (never a word of prose).
      if (word === 'r' && !/[/×=:(]\s*$/.test(whole.slice(Math.max(0, offset - 3), offset)) && !/^\s*[=:)]/.test(whole.slice(offset + 1, offset + 4))) return word;
      return names.get(word) ?? word;
    });
  };
  return { displayName, rename, sources };
}

/** Rules that report a fact LoRA Lens found (a model, a GPU, a file, the memory verdict), not advice on a value. */
const FACT_RULES = new Set(['model-unknown', 'gpu-unknown', 'memory-no-fit', 'dataset']);

/** Rules whose error means the run fails (out of memory, a data file that is not there), whichever tool runs it. */
const FAILING_RULES = new Set(['memory-no-fit', 'dataset']);

/**
 * The finding in the dialect's words, labelled as ours; fixes no dialect key can carry are left out. Our advice is
 * at most a warning here: the tool accepts the file, and an error would say it stops (only a real failure does).
 */
export function toDialectFinding(ruleId: string, finding: Finding, wording: DialectWording, severity: Severity): Finding {
  const label = FACT_RULES.has(ruleId) ? 'LoRA Lens' : `LoRA Lens advice (${wording.displayName} accepts this)`;
  const fixes = (finding.fixes ?? []).map((f) => dialectFix(f, wording)).filter((f): f is QuickFix => f !== null);
  const demoted = severity === 'error' && !FAILING_RULES.has(ruleId) ? { severity: 'warning' as const } : {};
  return { ...finding, ...demoted, message: `${label}: ${wording.rename(finding.message)}`, fixes };
}

function dialectFix(quickFix: QuickFix, wording: DialectWording): QuickFix | null {
  const edits: ConfigEdit[] = [];
  for (const edit of quickFix.edits) {
    const translated = dialectEdit(edit, wording.sources);
    if (translated.length === 0) return null;
    edits.push(...translated);
  }
  return { ...quickFix, title: wording.rename(quickFix.title), edits };
}

function dialectEdit(edit: ConfigEdit, sources: PlanSourceMap): ConfigEdit[] {
  const planPath = edit.path.map(String);
  if (edit.kind === 'set') {
    // modelFieldEdit writes `model: { name_or_path, field }` for a string model: in a dialect each field is a key.
    if (planPath.length === 1 && planPath[0] === 'model' && edit.value !== null && typeof edit.value === 'object' && !Array.isArray(edit.value)) {
      const fields = Object.entries(edit.value as Record<string, unknown>).filter(([key]) => key !== 'name_or_path');
      const parts = fields.map(([key, value]) => dialectEdits(sources, ['model', key], value));
      return parts.some((p) => p.length === 0) ? [] : parts.flat().map((e) => ({ kind: 'set', path: e.path, value: e.value }));
    }
    return dialectEdits(sources, planPath, edit.value).map((e) => ({ kind: 'set', path: e.path, value: e.value }));
  }
  const source = sources[planPath.join('.')];
  if (!source?.docPath || source.transform) return [];
  const path: NodePath = source.docPath;
  return edit.kind === 'remove' ? [{ kind: 'remove', path }] : [];
}
