import type { NodePath } from '../document/configDocument';
import type { QuickFix } from '../edits/configEdits';

/*
 * Types the dialects' own modules share. The id unions (DialectId, ToolDialectId) derive from the registry, which
 * imports every dialect: here ids are plain strings, so no dialect module imports the registry (match.ts has the
 * precise types for everything above it).
 */
/** LLaMA-Factory and TRL parse each command with different argument groups, so the command decides which keys are legal. */
export type SubKind = 'train' | 'inference' | 'export' | 'sft' | 'dpo';

/** Whose rule a diagnostic states: the tool's own behaviour (its dialect id), or LoRA Lens's advice (`lora-lens`). */
export type DiagnosticOrigin = string;

/** Payload of every dialect diagnostic; quick fixes read `fixes`, never the message. */
export interface DialectDiagnosticData {
  path: NodePath;
  /** The dialect id of the document (a tool's: `axolotl`, `llama-factory`). */
  dialect: string;
  origin: DiagnosticOrigin;
  /** The tool version the finding assumes (`axolotl 067b021`). */
  assumes: string;
  suggestion?: string;
  allowed?: unknown[];
  fixes?: QuickFix[];
}
