/**
 * The server side of "LoRA Lens: Convert to a LoRA Lens config": a workspace/executeCommand the extension sends
 * with the document's URI (and `force`). Shared by both sides, so the extension reads the same result type.
 */
export const CONVERT_COMMAND = 'loraLens.server.convertConfig';

export type ConvertResult =
  | { ok: true; outputPath: string; lost: Array<{ key: string; reason: string }> }
  /** `exists`: the output path, when the only problem is that the file is already there (ask, then force). */
  | { ok: false; message: string; exists?: string };
