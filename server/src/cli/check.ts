import { severityName } from '../core/document/diagnostics';
import { analyzeForCli, cliDatasetInspector } from './analysisEnvironment';
import { ExitCode, type CliIO } from './io';
import { helpText, parseArgs, plural, shortUsage, type CommandSpec } from './options';
import { readConfigFile } from './readConfigFile';
import { diagnosticLine, jsonOutcome, reportFailure, sortedPlain, wantsJson, type PlainDiagnostic } from './report';
import {
  DIALECT_IDS,
  detectDialect,
  dialectDisplayName,
  isDialectId,
  type DialectId,
  type DialectMatch,
} from '../core/dialects';

/**
 * What check says of YAML that no dialect claims (no modeline, no config file name, no dialect's keys): it is left
 * alone, as the editor leaves it (a TRL or alignment-handbook recipe, a custom trainer's config).
 */
const UNCLAIMED =
  'not checked: no dialect recognised (no `# lora-lens: dialect=...` modeline, no *.finetune.yaml name, not the keys of a LoRA Lens, axolotl or LLaMA-Factory config); pass --dialect lora-lens to check it as a LoRA Lens config';

/** What the text output says a file is: its dialect (and LLaMA-Factory command), or why it is not checked. */
function dialectLine(match: DialectMatch): string {
  if (match.dialect) return `${dialectDisplayName(match.dialect)} config${match.subKind ? ` (${match.subKind})` : ''}`;
  return match.notChecked ? `not checked: ${match.notChecked}` : UNCLAIMED;
}

export const CHECK: CommandSpec = {
  name: 'check',
  usage: ['FILE... [options]'],
  summary:
    'Validates configs as the editor does (schema, pitfall rules, memory fit) and prints one line per problem:\n' +
    'FILE:LINE:COL: SEVERITY CODE MESSAGE, in file order. FILE - reads a config from stdin.',
  options: [
    {
      name: 'dialect',
      value: DIALECT_IDS.join('|'),
      help: 'read every file as this dialect, whatever its modeline, name or keys say (other YAML is otherwise left alone)',
    },
    {
      name: 'tool-version',
      value: 'TOOL=VERSION[,...]',
      help: "check each tool's files against that release's keys (axolotl=0.16,llama-factory=0.9.4); a `# lora-lens: axolotl=0.16` line in a file wins; default: the newest release kept",
    },
    {
      name: 'offline',
      help: 'look no model up on the Hugging Face Hub (HF_HUB_OFFLINE does the same); models fetched before are still read from the cache',
    },
  ],
  notes: [
    'exit: 0 no errors (warnings allowed), 1 a config has errors, 2 usage error or a file that cannot be read.',
    '--json prints one JSON object on every outcome: command, exit_code, error (null or {kind, message}), files.',
  ],
  positionals: [1, Infinity],
  positionalName: 'FILE',
};

/** A bad option: exit 2 with the message (and the JSON outcome when asked). */
function usageFailure(io: CliIO, json: boolean, message: string): number {
  return reportFailure(
    io,
    'check',
    json,
    ExitCode.usage,
    { kind: 'usage', message },
    {},
    `lora-lens check: ${message}\n${shortUsage(CHECK)}\n`,
  );
}

/** `--tool-version axolotl=0.16,llama-factory=0.9.4` as dialect id → version, or what is wrong with it. */
export function parseToolVersions(value: string | undefined): Record<string, string> | string {
  const versions: Record<string, string> = {};
  if (value === undefined) return versions;
  for (const pair of value.split(',').filter((p) => p.trim() !== '')) {
    const [tool = '', version = ''] = pair.split('=', 2).map((s) => s.trim());
    const id = tool.toLowerCase() === 'llamafactory' ? 'llama-factory' : tool.toLowerCase();
    if (!isDialectId(id) || id === 'lora-lens' || !version)
      return `--tool-version ${pair}: expected TOOL=VERSION with TOOL one of ${DIALECT_IDS.filter((d) => d !== 'lora-lens').join(', ')} (e.g. axolotl=0.16)`;
    versions[id] = version;
  }
  return versions;
}

/** Whether check analyses a file: one a dialect claims, or one recognised as not checked (which says why). */
function isClaimed(match: DialectMatch): boolean {
  return match.dialect !== null || match.notChecked !== undefined;
}

/** `dialect`: the config's dialect, null when it is not one LoRA Lens checks (torchtune, a launcher file, other YAML). */
interface FileReport {
  file: string;
  dialect: DialectId | null;
  diagnostics: PlainDiagnostic[];
  error?: string;
}

/** `lora-lens check`: the editor's diagnostics for each file; exit 1 on any error, 2 on usage or I/O errors. */
export async function runCommand(args: string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(CHECK, args);
  if (typeof parsed === 'string') {
    return reportFailure(
      io,
      'check',
      wantsJson(args),
      ExitCode.usage,
      { kind: 'usage', message: parsed },
      {},
      `lora-lens check: ${parsed}\n${shortUsage(CHECK)}\n`,
    );
  }
  if (parsed.help) {
    io.stdout.write(helpText(CHECK));
    return ExitCode.ok;
  }
  const json = parsed.format === 'json';
  const forced = parsed.values.get('dialect');
  if (forced !== undefined && !isDialectId(forced))
    return usageFailure(io, json, `--dialect ${forced}: not a dialect; use one of ${DIALECT_IDS.join(', ')}`);
  const toolVersions = parseToolVersions(parsed.values.get('tool-version'));
  if (typeof toolVersions === 'string') return usageFailure(io, json, toolVersions);
  const files = parsed.positionals;
  const reports: FileReport[] = [];
  const inspector = cliDatasetInspector();
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
    const claimed = forced !== undefined || isClaimed(detectDialect(read.text, read.path));
    const { diagnostics, dialect } = claimed
      ? await analyzeForCli(read.text, read.path, {
          inspector,
          hub: !parsed.flags.has('offline'),
          ...(forced ? { forcedDialect: forced } : {}),
          toolVersions,
        })
      : { diagnostics: [], dialect: { dialect: null, source: 'none' } satisfies DialectMatch };
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
    const error = unread.length
      ? {
          kind: 'unreadable' as const,
          message: `${plural(unread.length, 'file')} could not be read: ${unread.map((r) => r.error).join('; ')}`,
        }
      : null;
    io.stdout.write(jsonOutcome('check', exitCode, error, { files: reports }));
  } else {
    const count = reports.reduce((n, r) => n + r.diagnostics.length, 0);
    const what = files.length === 1 ? (files[0] === '-' ? '<stdin>' : files[0]) : plural(files.length, 'file');
    if (count === 0 && !ioError) io.stdout.write(`${what}: no problems\n`);
    else if (errors > 0) io.stderr.write(`${plural(errors, 'error')} in ${what}\n`);
  }
  return exitCode;
}
