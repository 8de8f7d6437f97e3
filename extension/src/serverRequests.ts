import type * as vscode from 'vscode';
import { RunPlanRequestMethod, type RunPlanParams, type RunPlanResult } from '../../server/src/protocol/requests';

/** What the extension needs of the language client to ask it (the LanguageClient, or a test double of its shape). */
export interface RequestClient {
  sendRequest<R>(method: string, params: unknown): Promise<R>;
}

/**
 * The run plan of a config from the language server's cached analysis: plan, errors (with codes), the allocated peak
 * for `--estimate-peak-bytes`. A string says why there is none (no server, the server failed, not open there).
 */
export async function requestRunPlan(
  client: RequestClient | undefined,
  uri: vscode.Uri,
): Promise<RunPlanResult | string> {
  if (!client) return 'the LoRA Lens language server is not running; reload the window and try again.';
  try {
    const answer = await client.sendRequest<RunPlanResult | null>(RunPlanRequestMethod, {
      uri: uri.toString(),
    } satisfies RunPlanParams);
    return answer ?? `the language server could not read ${uri.fsPath}.`;
  } catch (error) {
    return `the language server did not answer (${(error as Error).message}); see the LoRA Lens output channel.`;
  }
}

/** "line 4: message" for each error, as the run command lists them. */
export function errorLines(result: RunPlanResult): string[] {
  return result.errors.map((error) => `line ${error.range.start.line + 1}: ${error.message}`);
}
