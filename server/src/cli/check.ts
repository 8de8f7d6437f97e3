import type { Diagnostic } from 'vscode-languageserver-types';
import { severityName } from '../diagnostics';
import { DatasetInspector } from '../data';
import { analyzeForCli } from './environment';
import { ExitCode, type CliIO } from './io';
import { readConfigFile } from './readConfigFile';

const USAGE = 'usage: lora-lens check FILE... [--format text|json]';

interface FileReport {
  file: string;
  diagnostics: Array<{ line: number; column: number; endLine: number; endColumn: number; severity: string; code: string; message: string }>;
  error?: string;
}

/** `lora-lens check`: the editor's diagnostics for each file; exit 1 on any error, 2 on usage or I/O errors. */
export async function runCommand(args: string[], io: CliIO): Promise<number> {
  let format = 'text';
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--format') format = args[++i] ?? '';
    else if (arg.startsWith('--format=')) format = arg.slice('--format='.length);
    else if (arg === '-h' || arg === '--help') { io.stdout.write(`${USAGE}\n`); return ExitCode.ok; }
    else if (arg.startsWith('-')) { io.stderr.write(`lora-lens check: unknown option ${arg}\n${USAGE}\n`); return ExitCode.usage; }
    else files.push(arg);
  }
  if (format !== 'text' && format !== 'json') { io.stderr.write(`lora-lens check: --format must be text or json, not "${format}"\n`); return ExitCode.usage; }
  if (files.length === 0) { io.stderr.write(`lora-lens check: no files given\n${USAGE}\n`); return ExitCode.usage; }

  const reports: FileReport[] = [];
  const inspector = new DatasetInspector();
  let ioError = false;
  let anyError = false;
  for (const file of files) {
    const read = await readConfigFile(file, io.cwd);
    const shown = file;
    if (!read.ok) {
      ioError = true;
      reports.push({ file: shown, diagnostics: [], error: read.message });
      if (format === 'text') io.stderr.write(`lora-lens check: ${read.message}\n`);
      continue;
    }
    const { diagnostics } = await analyzeForCli(read.text, read.path, { inspector });
    if (diagnostics.some((d) => severityName(d.severity) === 'error')) anyError = true;
    const report = { file: shown, diagnostics: diagnostics.map(toPlain).sort((a, b) => a.line - b.line || a.column - b.column) };
    reports.push(report);
    if (format === 'text') for (const d of report.diagnostics) io.stdout.write(`${shown}:${d.line}:${d.column}: ${d.severity} ${d.code} ${d.message}\n`);
  }
  if (format === 'json') io.stdout.write(`${JSON.stringify({ files: reports }, null, 2)}\n`);
  else {
    const count = reports.reduce((n, r) => n + r.diagnostics.length, 0);
    if (count === 0 && !ioError) io.stdout.write(`${files.length === 1 ? files[0] : `${files.length} files`}: no problems\n`);
  }
  return ioError ? ExitCode.usage : anyError ? ExitCode.problems : ExitCode.ok;
}

function toPlain(d: Diagnostic): FileReport['diagnostics'][number] {
  return {
    line: d.range.start.line + 1,
    column: d.range.start.character + 1,
    endLine: d.range.end.line + 1,
    endColumn: d.range.end.character + 1,
    severity: severityName(d.severity),
    code: String(d.code ?? ''),
    message: typeof d.message === 'string' ? d.message : d.message.value,
  };
}
