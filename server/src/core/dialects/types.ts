import type { NodePath } from '../document/configDocument';
import type { QuickFix } from '../edits/configEdits';

/** The config dialects LoRA Lens understands. */
export type DialectId = 'lora-lens' | 'axolotl' | 'llama-factory';
/** The other tools' dialects, each with a generated schema. */
export type ToolDialectId = Exclude<DialectId, 'lora-lens'>;
/** LLaMA-Factory parses each command with different argument groups, so the command decides which keys are legal. */
export type SubKind = 'train' | 'inference' | 'export';

export interface DialectMatch {
  dialect: DialectId | null;
  subKind?: SubKind;
  /** Set when the file is recognised as something LoRA Lens does not check (a torchtune recipe, a launcher file, ...). */
  notChecked?: string;
  source: 'modeline' | 'setting' | 'keys' | 'file-name' | 'none';
}

export interface DialectSettings {
  /** Glob (matched against the path, as `loraLens.files` globs are) → dialect; the first matching glob wins. */
  dialects?: Record<string, DialectId>;
}

/** Whose rule a diagnostic states: the tool's own behaviour, or LoRA Lens's advice. */
export type DiagnosticOrigin = 'axolotl' | 'llama-factory' | 'lora-lens';

/** Payload of every dialect diagnostic; quick fixes read `fixes`, never the message. */
export interface DialectDiagnosticData {
  path: NodePath;
  dialect: ToolDialectId;
  origin: DiagnosticOrigin;
  /** The tool version the finding assumes (`axolotl 067b021`). */
  assumes: string;
  suggestion?: string;
  allowed?: unknown[];
  fixes?: QuickFix[];
}
