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
  /** Each file line asked for (a data-safety finding's row) and the row index it is (null: no row starts there). */
  located: Array<{ line: number; index: number | null }>;
  rows: PreviewRow[];
}

/** The command "LoRA Lens: Preview Training Data" (CONFIG_URI?, ROW?): the CodeLens on data.train and the
 * data-safety quick fix call it; ROW is a data-safety finding's place, `{ line }` or `{ index }`. */
export const PREVIEW_TRAINING_DATA_COMMAND = 'loraLens.previewTrainingData';

/** A row as the data-safety findings name it: a 1-based file line (JSON lines, CSV) or a 0-based record index. */
export interface RowPlace {
  line?: number;
  index?: number;
}

/** The spot checks' default sample size (the seeds' "at least 200 manual spot checks"). */
export const SPOT_CHECK_SAMPLE = 200;

/** A token as shown: whitespace and control characters made visible, special tokens as they are. */
export function visibleToken(text: string): string {
  return text.replace(/\n/g, '\u21b5').replace(/\t/g, '\u2192').replace(/\r/g, '\u240d');
}

/** A spot-check verdict, one key each in the panel (g, b, u). */
export type Verdict = 'good' | 'bad' | 'unsure';
export const VERDICT_KEYS: Record<string, Verdict> = { g: 'good', b: 'bad', u: 'unsure' };

/** One line of `<dataset>.review.jsonl`: the row, its content hash when marked, the verdict, when. */
export interface ReviewMark {
  row: number;
  hash: string;
  verdict: Verdict;
  time: string;
}

/** The review so far over the sample: rows whose latest mark matches their content now. */
export function reviewSummary(
  sample: readonly PreviewRow[],
  marks: ReadonlyMap<number, ReviewMark>,
): { checked: number; bad: number; unsure: number; stale: number } {
  let checked = 0;
  let bad = 0;
  let unsure = 0;
  let stale = 0;
  for (const row of sample) {
    const mark = marks.get(row.index);
    if (!mark) continue;
    if (mark.hash !== row.content_hash) {
      stale++;
      continue;
    }
    checked++;
    if (mark.verdict === 'bad') bad++;
    if (mark.verdict === 'unsure') unsure++;
  }
  return { checked, bad, unsure, stale };
}

/** What the extension sends the preview page. */
export type ToPreview =
  | {
      type: 'show';
      report: PreviewReport;
      notes: string[];
      /** The latest mark of each row (from the review file). */
      marks: ReviewMark[];
      reviewFile: string;
      /** The config this preview is of (kept in the page's state, so a reloaded window reopens it). */
      configUri: string;
      /** Open with this row selected (the data-safety quick fix). */
      focusRow: number | null;
    }
  | { type: 'marks'; marks: ReviewMark[] }
  | { type: 'loading'; message: string }
  | { type: 'problem'; message: string };

/** What the page sends the extension. */
export type FromPreview =
  { type: 'ready' } | { type: 'mark'; row: number; hash: string; verdict: Verdict } | { type: 'reload' };

/** The page's saved state (webview state survives hiding and reloads): the mode and the selected row. */
export interface PreviewPageState {
  configUri: string;
  mode: 'first' | 'sample';
  selected: number | null;
}
