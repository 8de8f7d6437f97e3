/**
 * `lora-lens eval TARGET`: the tuned model against its base (the same weights, adapter disabled). The trainer's
 * evaluate verb (runs/evaluate.ts) computes loss and perplexity and generates both answers into
 * TARGET/eval/predictions.jsonl; the task metrics are computed here from that file, as `lora-lens metrics` does,
 * once per side, printed as one table with the change and written to TARGET/eval/metrics.json.
 */
import { createReadStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileSafely } from '../core/document/safeWrite';
import { createAccumulators, type FieldSchema, type MetricName, type MetricResult } from '../core/metrics';
import { EVAL_DEFAULTS } from '../core/plan/defaults';
import { isHubDatasetRef } from '../core/plan/hubDataset';
import { startEvaluation, type EvaluateInvocation } from '../runs/evaluate';
import { EVAL_DIR, resolveEvalTarget, type EvalSettings } from '../runs/evaluateTarget';
import { configBeside } from '../runs/evalToolConfig';
import { defaultPython, trainerRoot } from './doctor';
import { comparisonTable, compareMetrics, forgettingLine, generationLine } from './evalTable';
import { ExitCode, type CliIO } from './io';
import { parseMetricNames, readSchema, scoreLines } from './metrics';
import { PYTHON_OPTION, helpText, parseArgs, shortUsage, type CommandSpec, type ParsedArgs } from './options';
import { jsonOutcome, reportFailure, wantsJson, type CliError } from './report';
import { untilExit } from './untilExit';

/** Without --metrics or a run's eval.metrics: what a free-text answer is scored by. */
export const DEFAULT_EVAL_METRICS = EVAL_DEFAULTS.metrics.join(',');

export const EVAL: CommandSpec = {
  name: 'eval',
  usage: ['TARGET [--metrics NAMES] [--rows N] [options]'],
  summary:
    'Evaluates a fine-tuned model against its base model (the same weights with the adapter disabled): loss and\n' +
    'perplexity on the evaluation file, a greedy answer from each for every prompt (TARGET/eval/predictions.jsonl:\n' +
    'prompt, reference, base, tuned), and the task metrics of both with the change. TARGET is a run folder (plan.json)\n' +
    "or any PEFT adapter folder (axolotl's or LLaMA-Factory's output_dir: the training config in it or beside it\n" +
    'gives the evaluation file and the chat template).',
  options: [
    {
      name: 'metrics',
      alias: 'm',
      value: 'NAMES',
      help: `comma-separated (default the run's eval.metrics, else ${DEFAULT_EVAL_METRICS}); lora-lens metrics --help lists them`,
    },
    {
      name: 'schema',
      value: 'FILE',
      help: "a JSON Schema, for json_fields and json_valid (default the run's eval.json_schema)",
    },
    {
      name: 'eval-file',
      value: 'FILE',
      help: "the evaluation file (default the run's eval.file, else its data.eval, or the config's)",
    },
    { name: 'rows', value: 'N', help: 'evaluate the first N rows only' },
    {
      name: 'max-new-tokens',
      value: 'N',
      help: "the longest answer generated (default the run's eval.max_new_tokens, 128)",
    },
    { name: 'batch-size', value: 'N', help: "prompts generated together (default the run's eval.batch_size, 8)" },
    {
      name: 'general-text',
      value: 'FILE',
      help: 'plain text (.txt, or rows with "text") for the forgetting check (default the run\'s eval.general_text)',
    },
    { name: 'chat-template', value: 'NAME', help: "auto, a named template or Jinja (default the run's)" },
    { name: 'base-model', value: 'NAME', help: "the base model (default the plan's, or adapter_config.json's)" },
    { name: 'replace', help: 'evaluate again when TARGET/eval/ exists (replaced only once the new one is complete)' },
    PYTHON_OPTION,
  ],
  notes: [
    'exit: 0 evaluated, 1 the evaluation failed (the trainer says why on stderr), 2 usage error or a target that\n' +
      'cannot be evaluated, 130 interrupted (nothing written).',
  ],
  positionals: [1, 1],
  positionalName: 'TARGET',
};

type Fail = (code: number, error: CliError) => number;

function wholeNumbers(
  parsed: ParsedArgs,
): Record<'rows' | 'max-new-tokens' | 'batch-size', number | undefined> | string {
  const out: Record<string, number | undefined> = {};
  for (const name of ['rows', 'max-new-tokens', 'batch-size']) {
    const text = parsed.values.get(name);
    const value = text === undefined ? undefined : Number(text);
    if (value !== undefined && (!Number.isInteger(value) || value < 1))
      return `--${name} must be a whole number of at least 1, not "${text}"`;
    out[name] = value;
  }
  return out as Record<'rows' | 'max-new-tokens' | 'batch-size', number | undefined>;
}

/** Each side's metrics from predictions.jsonl (the `base` and `tuned` fields), or why they cannot be computed. */
async function scoreSides(
  predictions: string,
  names: MetricName[],
  schema: FieldSchema | undefined,
): Promise<{ base: MetricResult[]; tuned: MetricResult[]; problems: number } | string> {
  const out: Record<'base' | 'tuned', MetricResult[]> = { base: [], tuned: [] };
  let problems = 0;
  for (const side of ['base', 'tuned'] as const) {
    const accumulators = createAccumulators(names, schema);
    if (typeof accumulators === 'string') return accumulators;
    const tally = await scoreLines(createReadStream(predictions), side, accumulators);
    problems += tally.problemsTotal;
    out[side] = [...accumulators.values()].map((a) => a.result());
  }
  return { ...out, problems };
}

/** What the verb is asked: the command line first, then the run's eval: block (plan.json), then the config beside an adapter folder. */
function invocation(
  parsed: ParsedArgs,
  numbers: Record<'rows' | 'max-new-tokens' | 'batch-size', number | undefined>,
  target: Extract<ReturnType<typeof resolveEvalTarget>, { ok: true }>,
  cwd: string,
): Omit<EvaluateInvocation, 'python'> {
  const given = (name: string) => parsed.values.get(name);
  const planned = target.evalPlan;
  const evalFile = given('eval-file') ?? planned.file ?? undefined;
  const generalText = given('general-text') ?? planned.general_text ?? undefined;
  const settings: Partial<EvalSettings> = {
    ...(target.config?.settings ?? {}),
    // A Hub dataset (hf://datasets/…) is passed as written: the trainer reads it with datasets.
    ...(evalFile !== undefined ? { evalFile: isHubDatasetRef(evalFile) ? evalFile : resolve(cwd, evalFile) } : {}),
    ...(given('chat-template') !== undefined ? { chatTemplate: given('chat-template') } : {}),
  };
  return {
    target: target.folder,
    settings,
    baseModel: given('base-model'),
    rows: numbers.rows,
    maxNewTokens: numbers['max-new-tokens'] ?? planned.max_new_tokens,
    batchSize: numbers['batch-size'] ?? planned.batch_size,
    temperature: planned.temperature,
    seed: target.seed,
    stopAtEndOfTurn: planned.stop_at_end_of_turn,
    generalText: generalText === undefined ? undefined : resolve(cwd, generalText),
    replace: parsed.flags.has('replace'),
  };
}

export async function runCommand(args: string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(EVAL, args);
  const json = wantsJson(args);
  const fail: Fail = (code, error) =>
    reportFailure(
      io,
      'eval',
      json,
      code,
      error,
      {},
      error.kind === 'usage' ? `lora-lens eval: ${error.message}\n${shortUsage(EVAL)}\n` : undefined,
    );
  if (typeof parsed === 'string') return fail(ExitCode.usage, { kind: 'usage', message: parsed });
  if (parsed.help) {
    io.stdout.write(helpText(EVAL));
    return ExitCode.ok;
  }
  const numbers = wholeNumbers(parsed);
  if (typeof numbers === 'string') return fail(ExitCode.usage, { kind: 'usage', message: numbers });
  const metricsOption = parsed.values.get('metrics');
  const checked = metricsOption === undefined ? [] : parseMetricNames(metricsOption);
  if (typeof checked === 'string') return fail(ExitCode.usage, { kind: 'usage', message: checked });
  const target = resolveEvalTarget(resolve(io.cwd, parsed.positionals[0]!), configBeside);
  if (!target.ok) return fail(ExitCode.usage, { kind: 'unreadable', message: target.message });
  // The run's eval block (plan.json) fills in what the command line does not say.
  const planned = target.evalPlan;
  const names = parseMetricNames(metricsOption ?? planned.metrics.join(','));
  if (typeof names === 'string') return fail(ExitCode.usage, { kind: 'usage', message: names });
  const schemaFile = parsed.values.get('schema') ?? planned.json_schema ?? undefined;
  const schema = schemaFile === undefined ? undefined : await readSchema(schemaFile, io.cwd);
  if (schema && 'kind' in schema) return fail(ExitCode.usage, schema);
  const check = createAccumulators(names, schema);
  if (typeof check === 'string') return fail(ExitCode.usage, { kind: 'usage', message: check });
  if (target.config)
    io.stderr.write(
      `lora-lens eval: ${target.folder} is a PEFT adapter folder; its training config is ${target.config.path} (${target.config.dialect})\n`,
    );
  const started = startEvaluation({
    ...invocation(parsed, numbers, target, io.cwd),
    python: parsed.values.get('python') ?? defaultPython(),
    cwd: io.cwd,
    trainerRoot: trainerRoot(),
    onStderr: (line) => io.stderr.write(`${line}\n`),
  });
  const { exit, interrupted } = await untilExit(started);
  if (interrupted) {
    io.stderr.write('lora-lens eval: interrupted; nothing was written\n');
    return ExitCode.interrupted;
  }
  if (exit.spawnError)
    return fail(ExitCode.problems, {
      kind: 'unreadable',
      message: `${exit.spawnError}; pass --python PATH (or set LORA_LENS_PYTHON)`,
    });
  if (exit.code !== 0 || !exit.report)
    return fail(ExitCode.problems, {
      kind: 'unreadable',
      message: `the evaluation failed (exit ${exit.code}); nothing was written to ${join(target.folder, EVAL_DIR)}`,
    });
  return present(io, json, names, schema, target.folder, exit.report);
}

async function present(
  io: CliIO,
  json: boolean,
  names: MetricName[],
  schema: FieldSchema | undefined,
  folder: string,
  report: Record<string, unknown>,
): Promise<number> {
  const predictions = String(report.predictions);
  const scored = await scoreSides(predictions, names, schema);
  if (typeof scored === 'string')
    return reportFailure(io, 'eval', json, ExitCode.problems, { kind: 'unreadable', message: scored });
  const metrics = compareMetrics(report, scored.base, scored.tuned);
  const outFolder = String(report.out ?? join(folder, EVAL_DIR));
  const written = writeFileSafely(
    join(outFolder, 'metrics.json'),
    `${JSON.stringify({ metrics, base: scored.base, tuned: scored.tuned }, null, 2)}\n`,
    { replace: true },
  );
  if (!written.ok) io.stderr.write(`lora-lens eval: ${written.message}\n`);
  if (json) {
    io.stdout.write(
      jsonOutcome('eval', ExitCode.ok, null, {
        target: folder,
        predictions,
        metrics,
        problems_total: scored.problems,
        report,
      }),
    );
    return ExitCode.ok;
  }
  io.stdout.write(
    `${String(report.prompts)} prompts of ${String(report.eval_file)}; base: ${String(report.base_weights)}\n\n`,
  );
  io.stdout.write(comparisonTable(metrics));
  const forgetting = forgettingLine(report);
  io.stdout.write(`\n${forgetting ? `${forgetting}\n` : ''}${generationLine(report)}\npredictions: ${predictions}\n`);
  if (scored.problems)
    io.stderr.write(
      `lora-lens eval: ${scored.problems} answer(s) could not be scored (lora-lens metrics ${predictions} --field tuned names them)\n`,
    );
  return ExitCode.ok;
}
