import { existsSync } from 'node:fs';
import type { Connection } from 'vscode-languageserver/node';
import { doComplete } from '../../core/analysis/completion';
import { doHover } from '../../core/analysis/hover';
import { findDocumentSymbols } from '../../core/analysis/symbols';
import { findDocumentLinks } from '../../core/analysis/links';
import { targetModuleNames } from '../../core/models';
import { initFromValues } from '../../core/rules/initFromRun';
import { getQuickFixes } from '../codeActions';
import { getDisableActions } from '../disableActions';
import { getMemoryHover, getMemoryInlayHints, getRunCodeLenses } from '../memoryFeatures';
import { getOpenRowActions, getPreviewCodeLenses } from '../previewActions';
import type { Workspace } from '../workspace';

/** Completion and hover. */
export function registerEditingFeatures(connection: Connection, workspace: Workspace): void {
  const { cache } = workspace;
  connection.onCompletion((params) =>
    workspace.withConfig(params.textDocument.uri, [], (d) => {
      const { model, dialect, plan } = workspace.analyze(d);
      if (dialect.notChecked) return [];
      return doComplete(cache.get(d), params.position, {
        dialect: dialect.dialect ?? 'lora-lens',
        ...(model?.ok ? { targetModules: targetModuleNames(model.spec) } : {}),
        ...(plan && (dialect.dialect ?? 'lora-lens') === 'lora-lens'
          ? { initFromRuns: () => initFromValues(plan) }
          : {}),
      });
    }),
  );
  connection.onHover((params) =>
    workspace.withConfig(params.textDocument.uri, null, (d) => {
      const analysis = workspace.analyze(d);
      const memory = getMemoryHover(cache.get(d), analysis, params.position);
      if (memory) return memory;
      return analysis.dialect.notChecked
        ? null
        : doHover(cache.get(d), params.position, analysis.dialect.dialect ?? 'lora-lens');
    }),
  );
}

/** Links, symbols, code actions, inlay hints and code lenses. */
export function registerDocumentFeatures(connection: Connection, workspace: Workspace): void {
  const { cache } = workspace;
  // A tool's flat file (axolotl, LLaMA-Factory) gets its keys grouped by the plan section each one decides.
  connection.onDocumentLinks((params) =>
    workspace.withConfig(params.textDocument.uri, [], (d) => {
      const { plan, sources } = workspace.analyze(d);
      return findDocumentLinks(cache.get(d), plan, sources, existsSync);
    }),
  );
  connection.onDocumentSymbol((params) =>
    workspace.withConfig(params.textDocument.uri, [], (d) =>
      findDocumentSymbols(cache.get(d), workspace.analyze(d).sources),
    ),
  );
  connection.onCodeAction((params) =>
    workspace.withConfig(params.textDocument.uri, [], (d) => [
      ...getQuickFixes(params.textDocument.uri, cache.get(d), params.context.diagnostics),
      ...getDisableActions(params.textDocument.uri, cache.get(d), params.context.diagnostics),
      ...getOpenRowActions(params.textDocument.uri, params.context.diagnostics),
    ]),
  );
  connection.languages.inlayHint.on((params) =>
    workspace.withConfig(params.textDocument.uri, [], (d) => getMemoryInlayHints(cache.get(d), workspace.analyze(d))),
  );
  connection.onCodeLens((params) =>
    workspace.withConfig(params.textDocument.uri, [], (d) => [
      ...getRunCodeLenses(params.textDocument.uri, cache.get(d), workspace.analyze(d)),
      ...getPreviewCodeLenses(params.textDocument.uri, cache.get(d), workspace.analyze(d)),
    ]),
  );
}
