/**
 * The training-data preview: what `python -m lora_lens_trainer preview` prints (schemas/preview.schema.json, checked
 * on both sides), what `lora-lens preview --json` carries, and what the editor's preview panel shows. Shared by the
 * CLI, the extension and the webview page (types and pure helpers only).
 */

/** One row rendered as the trainer feeds it. */
export interface PreviewRendering {
  /** Token ids up to 32 past max_length. */
  ids: number[];
  /** The tokenizer's token strings (special tokens as themselves). */
  tokens: string[];
  /** Each token decoded alone. */
  text: string[];
  /** True: the label is the token (trained); false: -100 (masked). */
  trained: boolean[];
  special: boolean[];
  /** Tokens before truncation. */
  token_count: number;
  /** Trained tokens within max_length. */
  trained_count: number;
  /** max_length when the row is longer, else null. */
  truncated_at: number | null;
  /** The trainer skips the row: nothing left to train within max_length. */
  dropped: boolean;
}

export interface PreviewRow {
  index: number;
  /** sha256 of the row's canonical JSON: a spot-check mark's identity. */
  content_hash: string;
  duplicate_of: number | null;
  /** Why the trainer cannot render this row. */
  error: string | null;
  rendering: PreviewRendering | null;
  /** The model's own chat template's rendering, when the config's differs. */
  own_template: (PreviewRendering & { first_difference: number | null }) | { error: string } | null;
}

export interface PreviewReport {
  dataset: string;
  format: 'chat' | 'instruction' | 'text';
  total_rows: number;
  max_length: number;
  train_on_prompt: boolean;
  chat_template: string | null;
  tokenizer_template: 'same' | 'differs' | 'none';
  tokenizer: string;
  seed: number;
  first: number[];
  sample: number[];
  notes: string[];
  rows: PreviewRow[];
}

/** The spot checks' default sample size (the seeds' "at least 200 manual spot checks"). */
export const SPOT_CHECK_SAMPLE = 200;

/** A token as shown: whitespace and control characters made visible, special tokens as they are. */
export function visibleToken(text: string): string {
  return text.replace(/\n/g, '\u21b5').replace(/\t/g, '\u2192').replace(/\r/g, '\u240d');
}
