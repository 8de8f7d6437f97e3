import { severityName } from '../core/document/diagnostics';
import { DatasetInspector } from '../core/data';
import { analyzeForCli } from './analysisEnvironment';
import { ExitCode, type CliIO } from './io';
import { helpText, parseArgs, plural, shortUsage, type CommandSpec } from './options';
import { readConfigFile } from './readConfigFile';
import { diagnosticLine, jsonOutcome, reportFailure, sortedPlain, wantsJson, type PlainDiagnostic } from './report';
import { dialectDisplayName, type DialectId, type DialectMatch } from '../core/dialects';

/** What the text output says a file is: its dialect (and LLaMA-Factory command), or why it is not checked. */
function dialectLine(match: DialectMatch): string {
  if (match.dialect) return `${dialectDisplayName(match.dialect)} config${match.subKind ? ` (${match.subKind})` : ''}`;
  return match.notChecked ? `not checked: ${match.notChecked}` : 'no dialect recognised (neither its name nor its keys say); checked as a LoRA Lens config';
}

export const CHECK: CommandSpec = {
  name: 'check',
  usage: ['FILE... [options]'],
  summary: 'Validates configs as the editor does (schema, pitfall rules, memory fit) and prints one line per problem:\n'
    + 'FILE:LINE:COL: SEVERITY CODE MESSAGE, in file order. FILE - reads a config from stdin.',
  options: [
    { name: 'offline', help: 'look no model up on the Hugging Face Hub (HF_HUB_OFFLINE does the same); models fetched before are still read from the cache' },
  ],
  notes: ['exit: 0 no errors (warnings allowed), 1 a config has errors, 2 usage error or a file that cannot be read.',
    '--json prints one JSON object on every outcome: command, exit_code, error (null or {kind, message}), files.'],
  positionals: [1, Infinity],
  positionalName: 'FILE',
};

/** `dialect`: the config's dialect, null when it is not one LoRA Lens checks (torchtune, a launcher file, other YAML). */
interface FileReport { file: string; dialect: DialectId | null; diagnostics: PlainDiagnostic[]; error?: string }

/** `lora-lens check`: the editor's diagnostics for each file; exit 1 on any error, 2 on usage or I/O errors. */
export async function runCommand(args: string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(CHECK, args);
  if (typeof parsed === 'string') {
    return reportFailure(io, 'check', wantsJson(args), ExitCode.usage, { kind: 'usage', message: parsed }, {}, `lora-lens check: ${parsed}\n${shortUsage(CHECK)}\n`);
  }
  if (parsed.help) { io.stdout.write(helpText(CHECK)); return ExitCode.ok; }
  const json = parsed.format === 'json';
  const files = parsed.positionals;
  const reports: FileReport[] = [];
  const inspector = new DatasetInspector();
  let ioError = false;
  let errors = 0;
  for (const file of files) {
    const shown = file === '-' ? '<stdin>' : file;
    const read = await readConfigFile(file, io.cwd, io.stdin);
    if (!read.ok) {
      ioError = true;
      reports.push({ file: shown, dialect: null, diagnostics: [], error: read.message });
      io.stderr.write(`lora-lens check: ${read.message}\n`);
      continue;
    }
    const { diagnostics, dialect } = await analyzeForCli(read.text, read.path, { inspector, hub: !parsed.flags.has('offline') });
    errors += diagnostics.filter((d) => severityName(d.severity) === 'error').length;
    const report: FileReport = { file: shown, dialect: dialect.dialect, diagnostics: sortedPlain(diagnostics) };
    reports.push(report);
    if (!json) {
      // Our own configs as before; another tool's file (or one not checked) says what it was read as.
      if (dialect.dialect !== 'lora-lens') io.stdout.write(`${shown}: ${dialectLine(dialect)}\n`);
      for (const d of report.diagnostics) io.stdout.write(`${diagnosticLine(shown, d)}\n`);
    }
  }
  const exitCode = ioError ? ExitCode.usage : errors > 0 ? ExitCode.problems : ExitCode.ok;
  if (json) {
    const unread = reports.filter((r) => r.error !== undefined);
    const error = unread.length ? { kind: 'unreadable' as const, message: `${plural(unread.length, 'file')} could not be read: ${unread.map((r) => r.error).join('; ')}` } : null;
    io.stdout.write(jsonOutcome('check', exitCode, error, { files: reports }));
  } else {
    const count = reports.reduce((n, r) => n + r.diagnostics.length, 0);
    const what = files.length === 1 ? (files[0] === '-' ? '<stdin>' : files[0]) : plural(files.length, 'file');
    if (count === 0 && !ioError) io.stdout.write(`${what}: no problems\n`);
    else if (errors > 0) io.stderr.write(`${plural(errors, 'error')} in ${what}\n`);
  }
  return exitCode;
}
