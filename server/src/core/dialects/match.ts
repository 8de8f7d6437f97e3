/** What detection says about a document, and the setting that steers it: typed with the registry's ids. */
import type { DialectId } from './registry';
import type { SubKind } from './types';

export interface DialectMatch {
  dialect: DialectId | null;
  subKind?: SubKind;
  /** Set when the file is recognised as something LoRA Lens does not check (a torchtune recipe, a launcher file, ...). */
  notChecked?: string;
  source: 'modeline' | 'setting' | 'keys' | 'file-name' | 'none';
}

export interface DialectSettings {
  /** Every document is read as this dialect, whatever its modeline, name or keys say (`lora-lens check --dialect`). */
  forced?: DialectId;
  /** Glob (matched against the path, as `loraLens.files` globs are) → dialect; the first matching glob wins. */
  dialects?: Record<string, DialectId>;
}
