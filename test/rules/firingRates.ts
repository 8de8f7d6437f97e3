/**
 * The corpus walk (issue 19 item 3): every tool example config through the editor's analysis, offline, as a user
 * without the data files or the model downloaded would see it. Counts, per tool, the files recognised, those with
 * a training plan, those with a memory estimate, and for each rule the training configs it fires on.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiagnosticSeverity } from 'vscode-languageserver-types';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { analyzeConfig } from '../../server/src/core/analysis/analyze';
import { corpusFiles, type CorpusTool } from '../dialects/corpusFiles';

export const TOOLS: CorpusTool[] = ['axolotl', 'llama-factory', 'torchtune', 'trl'];

export interface ToolRates {
  files: number;
  recognised: number;
  /** Files with a training plan: the denominator of the rule rates. */
  training: number;
  estimated: number;
  /** rule id → training configs it fires on, and the severity it fires with. */
  rules: Record<string, { files: number; severity: string }>;
}

const SEVERITY: Record<number, string> = {
  [DiagnosticSeverity.Error]: 'error',
  [DiagnosticSeverity.Warning]: 'warning',
  [DiagnosticSeverity.Information]: 'info',
  [DiagnosticSeverity.Hint]: 'hint',
};

/** Walks one tool's corpus; a fresh HOME, so no Hugging Face cache is read and the Hub is never asked. */
export function firingRates(tool: CorpusTool): ToolRates {
  const env = { HOME: mkdtempSync(join(tmpdir(), 'lora-lens-rates-')) };
  const out: ToolRates = { files: 0, recognised: 0, training: 0, estimated: 0, rules: {} };
  for (const file of corpusFiles(tool)) {
    out.files++;
    const analysis = analyzeConfig({
      doc: parseConfigDocument(file.text),
      configPath: file.path,
      environment: { platform: 'linux', env, fallbackGpu: null },
    });
    if (analysis.dialect.dialect) out.recognised++;
    if (!analysis.plan) continue;
    out.training++;
    if (analysis.estimate) out.estimated++;
    const fired = new Map<string, string>();
    for (const d of analysis.diagnostics)
      if (!fired.has(String(d.code))) fired.set(String(d.code), SEVERITY[d.severity ?? 1] ?? 'error');
    for (const [code, severity] of fired) {
      const entry = (out.rules[code] ??= { files: 0, severity });
      entry.files++;
    }
  }
  return out;
}

/** The markdown table of docs/rules.md: one row per rule, its share of each tool's training configs. */
export function ratesTable(rates: Record<CorpusTool, ToolRates>): string {
  const tools = TOOLS.filter((t) => rates[t].training > 0);
  const codes = [...new Set(tools.flatMap((t) => Object.keys(rates[t].rules)))].sort();
  const cell = (t: CorpusTool, code: string) => {
    const n = rates[t].rules[code]?.files ?? 0;
    return n === 0 ? '–' : `${n} (${Math.round((100 * n) / rates[t].training)}%)`;
  };
  const severity = (code: string) => tools.map((t) => rates[t].rules[code]?.severity).find(Boolean) ?? '';
  const head = `| diagnostic | severity | ${tools.map((t) => `${t} (${rates[t].training})`).join(' | ')} |`;
  const rows = codes.map(
    (code) => `| \`${code}\` | ${severity(code)} | ${tools.map((t) => cell(t, code)).join(' | ')} |`,
  );
  const coverage = `| **memory estimate made** | | ${tools.map((t) => `${rates[t].estimated} (${Math.round((100 * rates[t].estimated) / rates[t].training)}%)`).join(' | ')} |`;
  return [head, `| --- | --- | ${tools.map(() => '---:').join(' | ')} |`, coverage, ...rows].join('\n');
}
