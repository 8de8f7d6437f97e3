import { DiagnosticSeverity, type Connection, type Diagnostic } from 'vscode-languageserver/node';
import { capMessage } from '../core/document/diagnostics';

/**
 * Runs one handler so that its exception ends neither the server nor the other documents: logged, and (for a
 * document) published as one internal-error diagnostic that says what to do.
 */
export function isolated(connection: Connection, what: string, uri: unknown, run: () => void): void {
  try {
    run();
  } catch (error) {
    connection.console.error(`LoRA Lens: ${what} failed: ${(error as Error).stack ?? String(error)}`);
    if (typeof uri !== 'string') return;
    void connection.sendDiagnostics({ uri, diagnostics: [internalErrorDiagnostic(error)] }).catch(() => undefined);
  }
}

/** The diagnostic a document gets when analysing it threw: a bug of ours, said as such, at the first line. */
export function internalErrorDiagnostic(error: unknown): Diagnostic {
  return {
    range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
    severity: DiagnosticSeverity.Error,
    source: 'lora-lens',
    code: 'internal-error',
    // The error's text may quote the document (a thrown parser message): capped as the analysis's messages are.
    message: capMessage(
      `LoRA Lens could not analyse this document (${error instanceof Error ? error.message : String(error)}). This is a bug in LoRA Lens, not in the config: edit or reopen the file to retry, and please report it with the LoRA Lens output channel's log.`,
    ),
  };
}
