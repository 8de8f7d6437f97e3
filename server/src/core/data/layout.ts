import type { DataFormat } from '../plan/types';

/**
 * How the tool that trains a config reads one row of its data file: one of our formats (`data.format`), named fields
 * (axolotl's `type: alpaca` and field mappings, LLaMA-Factory's alpaca columns), a list of messages under the tool's
 * own keys (axolotl's `chat_template`, LLaMA-Factory's sharegpt), or a prompt strategy LoRA Lens does not know. Rows
 * of an unknown strategy are counted and measured but never called wrong.
 *
 * `ktoLabel`: the field whose boolean says a KTO row is desirable (true) or not, tallied for the kto-weights rule:
 * LLaMA-Factory's `kto_tag` column of a dataset_info.json entry. An `unchecked` layout without one reads `label` (our
 * KTO rows, an axolotl `rl: kto` file's untyped rows).
 */
export type RowLayout =
  | { kind: 'format'; format: DataFormat }
  /** `label` names the tool's setting in messages: "axolotl's `type: alpaca`". */
  | { kind: 'fields'; label: string; required: string[]; optional: string[]; ktoLabel?: string }
  | { kind: 'messages'; label: string; field: string; role: string; content: string; ktoLabel?: string }
  | { kind: 'unchecked'; label: string; ktoLabel?: string }
  /** Preference pairs (`objective: dpo`, axolotl `rl:`, LLaMA-Factory `stage: dpo`): each side a string or chat messages. */
  | { kind: 'preference'; label: string; prompt: string; chosen: string; rejected: string };

/** Our dialect's preference rows: `{"prompt", "chosen", "rejected"}`, each a string or a list of chat messages. */
export const PREFERENCE_LAYOUT: RowLayout = {
  kind: 'preference',
  label: '`objective: dpo`',
  prompt: 'prompt',
  chosen: 'chosen',
  rejected: 'rejected',
};

/** KTO's unpaired rows (`{"prompt", "completion", "label"}`, strings or chat messages, a boolean label): the trainer
 * checks each row when it reads it; here they are counted and measured, never called wrong. */
export const KTO_LAYOUT: RowLayout = { kind: 'unchecked', label: '`objective: kto`' };

/** The row layout an objective reads whatever data.format says: pairs for DPO, ORPO and SimPO, KTO's rows; SFT none. */
export function objectiveLayout(objective: string | undefined): RowLayout | undefined {
  if (objective === 'kto') return KTO_LAYOUT;
  return objective === 'dpo' || objective === 'orpo' || objective === 'simpo' ? PREFERENCE_LAYOUT : undefined;
}

/** What the inspector's cache keys on (two layouts read the same file differently). */
export function layoutKey(layout: RowLayout | undefined): string {
  return layout ? JSON.stringify(layout) : '';
}

/** `{"instruction": ..., "output": ...}`: the row shape a layout expects, for messages. */
export function layoutShape(layout: RowLayout): string {
  switch (layout.kind) {
    case 'format':
      return FORMAT_SHAPE[layout.format];
    case 'fields':
      return `{${[...layout.required, ...layout.optional.map((k) => `${k}?`)].map((k) => `"${k}": ...`).join(', ')}}`;
    case 'messages':
      return `{"${layout.field}": [{"${layout.role}": ..., "${layout.content}": ...}]}`;
    case 'unchecked':
      return '';
    case 'preference':
      return `{"${layout.prompt}": ..., "${layout.chosen}": ..., "${layout.rejected}": ...}`;
  }
}

export const FORMAT_SHAPE: Record<DataFormat, string> = {
  chat: '{"messages": [{"role": ..., "content": ...}]}',
  instruction: '{"prompt": ..., "completion": ...}',
  text: '{"text": ...}',
};
