/**
 * `lora-lens preview CONFIG`: the training rows as the bundled trainer will feed them (the trainer's preview verb,
 * runs/preview.ts): the first rows and a seeded random sample, each token trained or masked, the counts and the
 * max_length cut, and the model's own chat template beside the config's where they differ. Any dialect: the plan is
 * the one the run would use; masking a tool sets beyond the plan is listed in the notes (core/analysis/previewMasking).
 */
import { maskingNotes } from '../core/analysis/previewMasking';
import { parseConfigDocument, isJsonUri } from '../core/document/configDocument';
import { runPreview } from '../runs/preview';
import { analyzeForCli } from './analysisEnvironment';
import { defaultPython, trainerRoot } from './doctor';
import { ExitCode, type CliIO } from './io';
import { PYTHON_OPTION, helpText, parseArgs, shortUsage, type CommandSpec, type ParsedArgs } from './options';
import { previewText } from './previewText';
import { readConfigFile } from './readConfigFile';
import { errorReport, jsonOutcome, reportFailure, sortedPlain, wantsJson, type CliError } from './report';
import { isTty } from './runReporter';

export const PREVIEW: CommandSpec = {
  name: 'preview',
  usage: ['CONFIG [--rows N] [--sample N --seed S] [options]'],
  summary:
    "Shows the training rows as the bundled trainer will feed them: the config's chat template applied, special\n" +
    'tokens visible, the masked (not trained) tokens marked, the token count of each row and where max_length cuts\n' +
    "it. Where the config names a chat template and the model's own tokenizer_config.json has another, the two\n" +
    'renderings of each row are compared token by token. Works for LoRA Lens, axolotl and LLaMA-Factory configs;\n' +
    "the model's tokenizer must be on disk (a local folder or the Hugging Face cache).",
  options: [
    { name: 'rows', alias: 'n', value: 'N', help: 'the first N rows (default 5; 0 for none)' },
    { name: 'sample', value: 'N', help: 'also a random sample of N rows (the spot-check sample; default 0)' },
    { name: 'seed', value: 'S', help: "the sample's seed (default 0): the same seed gives the same rows" },
    { name: 'tokens', help: 'mark every token boundary with │' },
    PYTHON_OPTION,
  ],
  notes: [
    'exit: 0 shown, 1 config errors (the preview is still shown when a plan can be built) or the trainer could not\n' +
      'read the model or the data (it says why), 2 usage error or an unreadable config.',
  ],
  positionals: [1, 1],
  positionalName: 'CONFIG',
};

type Counts = { rows: number; sample: number; seed: number };

function counts(parsed: ParsedArgs): Counts | string {
  const out: Record<string, number> = { rows: 5, sample: 0, seed: 0 };
  for (const name of ['rows', 'sample', 'seed']) {
    const text = parsed.values.get(name);
    if (text === undefined) continue;
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value))
      return `--${name} must be a whole number of 0 or more, not "${text}"`;
    out[name] = value;
  }
  if (out.rows! + out.sample! === 0) return '--rows 0 and no --sample: nothing to show';
  if (out.rows! + out.sample! > 5000) return '--rows plus --sample is at most 5000';
  return out as Counts;
}

export async function runCommand(args: string[], io: CliIO): Promise<number> {
  const json = wantsJson(args);
  const parsed = parseArgs(PREVIEW, args);
  const fail = (code: number, error: CliError, body: Record<string, unknown> = {}) =>
    reportFailure(
      io,
      'preview',
      json,
      code,
      error,
      body,
      error.kind === 'usage' ? `lora-lens preview: ${error.message}\n${shortUsage(PREVIEW)}\n` : undefined,
    );
  if (typeof parsed === 'string') return fail(ExitCode.usage, { kind: 'usage', message: parsed });
  if (parsed.help) {
    io.stdout.write(helpText(PREVIEW));
    return ExitCode.ok;
  }
  const selection = counts(parsed);
  if (typeof selection === 'string') return fail(ExitCode.usage, { kind: 'usage', message: selection });
  const file = parsed.positionals[0]!;
  const read = await readConfigFile(file, io.cwd, io.stdin);
  if (!read.ok) return fail(ExitCode.usage, { kind: 'unreadable', message: read.message });
  const analysis = await analyzeForCli(read.text, read.path, { hub: false });
  const errors = sortedPlain(analysis.diagnostics).filter((d) => d.severity === 'error');
  const body = { file, dialect: analysis.dialect.dialect, errors };
  if (!analysis.dialect.dialect)
    return fail(ExitCode.usage, { kind: 'not-a-config', message: `${file} is not a training config` }, body);
  if (!analysis.plan)
    return fail(
      ExitCode.problems,
      { kind: 'no-plan', message: `${file} lacks what a run needs (method, model, data.train)` },
      body,
    );
  const outcome = await runPreview({
    python: parsed.values.get('python') ?? defaultPython(),
    plan: analysis.plan,
    ...selection,
    cwd: io.cwd,
    trainerRoot: trainerRoot(),
  });
  if (!outcome.ok) {
    const hint = outcome.kind === 'spawn' ? '; pass --python PATH (or set LORA_LENS_PYTHON)' : '';
    return fail(ExitCode.problems, { kind: 'unreadable', message: `${outcome.message}${hint}` }, body);
  }
  const doc = parseConfigDocument(read.text, { json: isJsonUri(read.path) });
  const notes = maskingNotes(analysis.dialect.dialect, doc.value);
  const code = errors.length ? ExitCode.problems : ExitCode.ok;
  if (errors.length) io.stderr.write(errorReport(file, analysis.diagnostics, 'the preview is shown anyway'));
  if (json) {
    io.stdout.write(jsonOutcome('preview', code, null, { ...body, notes, preview: outcome.report }));
    return code;
  }
  io.stdout.write(
    previewText(outcome.report, notes, { color: isTty(io.stdout), boundaries: parsed.flags.has('tokens') }),
  );
  return code;
}
