/**
 * `lora-lens estimate FILE [--gpu GPU] [--engine hf|lora-lens] [--compare] [--json]`: the memory estimate of a config,
 * its speed, time and cost (server/src/throughput), and with --compare the full/LoRA/QLoRA head-to-head, as a table
 * or JSON. It goes through the editor's analysis (analyzeConfig, like `check`) and formats its one estimate report,
 * so the two agree on errors and figures. Errors elsewhere in the config do not block the estimate.
 * Exit 0 when it fits (or no GPU is known), 1 when it does not fit or the config has errors, 2 on usage or I/O errors.
 */
import { detectGpus } from '../runs/gpuDetect';
import type { GpuSpec } from '../core/gpu/types';
import { formatCount, formatGiB, MEMORY_NO_FIT, perGpu } from '../core/estimate/memory/presentation';
import { loadRamLine } from '../core/estimate/memory/loadRam';
import { offloadRamLine } from '../core/estimate/memory/offloadRam';
import { gpuCountsLine } from '../core/estimate/gpuCounts';
import type { EstimateReport } from '../core/estimate/report';
import { evaluationDetail, trainingAndEvaluationLine, type EvaluationEstimate } from '../core/estimate/evaluation';
import { exportDetail, exportJson, exportLine } from '../core/estimate/export';
import { estimateReportOf } from '../core/analysis/estimateReport';
import type { Engine, TrainingPlan } from '../core/plan/types';
import type { MethodComparison } from '../core/estimate/throughput/compare';
import type { ThroughputEstimate } from '../core/estimate/throughput/estimate';
import { formatDurationShort, type TrainingTime } from '../core/estimate/throughput/time';
import { analyzeForCli, cliGpu, type CliAnalysisOptions } from './analysisEnvironment';
import { ExitCode, type CliIO } from './io';
import { GPU_FORMS, helpText, parseArgs, shortUsage, type CommandSpec } from './options';
import { readConfigFile } from './readConfigFile';
import { errorReport, jsonOutcome, reportFailure, sortedPlain, wantsJson, type PlainDiagnostic } from './report';

export const ESTIMATE: CommandSpec = {
  name: 'estimate',
  usage: ['FILE [options]'],
  summary:
    "Peak GPU memory of a config, term by term, against a GPU (the one given, the config's hardware.gpu, or the\n" +
    'first one nvidia-smi lists), with the least change that makes it fit and the recommended method. FILE - reads stdin.',
  options: [
    { name: 'gpu', value: 'GPU', help: 'the GPU to check the fit against (overrides hardware.gpu)' },
    { name: 'engine', value: 'hf|lora-lens', help: "which trainer's memory profile (default: the config's engine)" },
    {
      name: 'gpus',
      value: 'N',
      help: "for a tool's file that shards (DeepSpeed, FSDP) but names no GPU count: estimate per GPU on N (default: this machine's)",
    },
    {
      name: 'compare',
      help: 'a head-to-head of full fine-tuning, LoRA and QLoRA for this config: peak memory, fits, tokens/s, time, cost',
    },
    {
      name: 'cost-per-hour',
      value: 'RATE',
      help: "one GPU's hourly price for the cost estimate (overrides hardware.cost_per_hour)",
    },
    {
      name: 'offline',
      help: 'look no model up on the Hugging Face Hub (HF_HUB_OFFLINE does the same); models fetched before are still read from the cache',
    },
  ],
  notes: [
    GPU_FORMS,
    'The estimate is printed even when the config has errors (they are listed, and what it assumed is said).',
    'exit: 0 fits (or no GPU known), 1 does not fit or the config has errors, 2 usage error or unreadable file.',
    '--json prints one JSON object on every outcome: command, exit_code, error (null or {kind, message}), then the estimate.',
  ],
  positionals: [1, 1],
  positionalName: 'FILE',
};

/** What the command prints, in text or JSON: the one estimate report, and the config's errors it was made despite. */
interface Result {
  file: string;
  report: EstimateReport;
  /** Why no GPU is known (nvidia-smi's answer), when none is. */
  gpuNote: string;
  comparison: MethodComparison[] | null;
  errors: PlainDiagnostic[];
}

/** The options after validation, or the usage error. */
type EstimateArgs = {
  file: string;
  gpu: GpuSpec | null;
  engine: Engine | undefined;
  rate: number | null;
  gpus: number | null;
  compare: boolean;
  hub: boolean;
  json: boolean;
};

function readEstimateArgs(args: string[]): EstimateArgs | { help: true } | { usage: string } {
  const parsed = parseArgs(ESTIMATE, args);
  if (typeof parsed === 'string') return { usage: `${parsed}\n${shortUsage(ESTIMATE)}` };
  if (parsed.help) return { help: true };
  const engine = parsed.values.get('engine');
  if (engine !== undefined && engine !== 'hf' && engine !== 'lora-lens')
    return { usage: `--engine must be hf or lora-lens, not "${engine}"` };
  let gpu: GpuSpec | null = null;
  const gpuArg = parsed.values.get('gpu');
  if (gpuArg !== undefined) {
    const lookup = cliGpu(gpuArg);
    if (!lookup.ok) return { usage: `--gpu ${gpuArg}: ${lookup.message}\n${GPU_FORMS}` };
    gpu = lookup.gpu;
  }
  const rateArg = parsed.values.get('cost-per-hour');
  const rate = rateArg === undefined ? null : Number(rateArg);
  if (rate !== null && !(Number.isFinite(rate) && rate >= 0))
    return { usage: `--cost-per-hour must be a number ≥ 0, not "${rateArg}"` };
  const gpusArg = parsed.values.get('gpus');
  const gpus = gpusArg === undefined ? null : Number(gpusArg);
  if (gpus !== null && !(Number.isInteger(gpus) && gpus >= 1 && gpus <= 64))
    return {
      usage: `--gpus must be a whole number from 1 to 64 (the GPUs the tool's launcher would use), not "${gpusArg}"`,
    };
  return {
    file: parsed.positionals[0]!,
    gpu,
    engine,
    rate,
    gpus,
    compare: parsed.flags.has('compare'),
    hub: !parsed.flags.has('offline'),
    json: parsed.format === 'json',
  };
}

/** The analysis as this command's flags ask: the GPU, the engine profile, the GPU count of a tool's file. */
function analysisOptions(options: EstimateArgs): CliAnalysisOptions {
  return {
    hub: options.hub,
    gpuOverride: options.gpu,
    ...(options.engine ? { engineOverride: options.engine } : {}),
    ...(options.gpus ? { gpuCount: options.gpus } : {}),
  };
}

/**
 * Runs `lora-lens estimate`; resolves to the exit code. An estimate is printed whenever the model resolves and a plan
 * exists: the config's other errors are listed (stderr, and `errors` in JSON) and make the exit code 1, but do not
 * block it. With --json every outcome prints one JSON object (cli/report.ts jsonOutcome).
 */
export async function runCommand(args: string[], io: CliIO): Promise<number> {
  const json = wantsJson(args);
  const options = readEstimateArgs(args);
  if ('help' in options) {
    io.stdout.write(helpText(ESTIMATE));
    return ExitCode.ok;
  }
  if ('usage' in options)
    return reportFailure(
      io,
      'estimate',
      json,
      ExitCode.usage,
      { kind: 'usage', message: options.usage.split('\n')[0]! },
      {},
      `lora-lens estimate: ${options.usage}\n`,
    );
  const shown = options.file === '-' ? '<stdin>' : options.file;
  const read = await readConfigFile(options.file, io.cwd, io.stdin);
  if (!read.ok)
    return reportFailure(
      io,
      'estimate',
      json,
      ExitCode.usage,
      { kind: 'unreadable', message: read.message },
      { file: shown },
    );

  const analysis = await analyzeForCli(read.text, read.path, analysisOptions(options));
  // The fit against the GPU is this command's verdict, not a config error.
  const configErrors = analysis.diagnostics.filter((d) => d.code !== MEMORY_NO_FIT);
  const errors = sortedPlain(configErrors).filter((d) => d.severity === 'error');
  const body = { file: shown, errors };
  if (!analysis.plan) {
    const why =
      analysis.dialect.notChecked ??
      analysis.diagnostics.find((d) => d.code === 'dialect-not-a-training-config')?.message;
    const error = why
      ? { kind: 'not-a-config' as const, message: `${shown}: ${why}` }
      : {
          kind: 'no-plan' as const,
          message: `${shown}: no training plan could be built (method, model and data.train are needed)`,
        };
    return reportFailure(
      io,
      'estimate',
      json,
      ExitCode.problems,
      error,
      body,
      `${errorReport(shown, configErrors, 'fix them first')}lora-lens estimate: ${error.message}\n`,
    );
  }
  const report = estimateReportOf(analysis, options.rate);
  if (!report) {
    const message = analysis.model && !analysis.model.ok ? analysis.model.message : 'the model could not be resolved';
    return reportFailure(io, 'estimate', json, ExitCode.problems, { kind: 'model-unresolved', message }, body);
  }
  const gpuNote = report.gpu ? '' : await detectGpus().then((d) => (d.ok ? '' : d.message));
  const result: Result = {
    file: shown,
    report,
    gpuNote,
    comparison: options.compare ? report.compare() : null,
    errors,
  };
  const exitCode = report.estimate.fits === false || errors.length > 0 ? ExitCode.problems : ExitCode.ok;
  if (json) io.stdout.write(jsonOutcome('estimate', exitCode, null, toJson(result)));
  else {
    if (errors.length)
      io.stderr.write(errorReport(shown, configErrors, 'the estimate below reads the rest of the config'));
    io.stdout.write(toText(result));
  }
  return exitCode;
}

const int = (bytes: number | null | undefined) => (typeof bytes === 'number' ? Math.round(bytes) : null);

/** The JSON report: byte counts are integers. */
function toJson({ file, report, gpuNote, comparison, errors }: Result): Record<string, unknown> {
  const { estimate: est, gpu, fit, recommendation, throughput, time } = report;
  return {
    file,
    engine: est.engine,
    calibrated: est.calibrated,
    peak_bytes: int(est.peakBytes),
    peak_allocated_bytes: int(est.peakAllocatedBytes),
    reserved_bytes_max: int(est.reservedBytesMax),
    peak_phase: est.peakPhase,
    breakdown: est.breakdown.map((t) => ({ term: t.key, label: t.label, bytes: int(t.bytes) })),
    gpu: gpu ? { name: gpu.name, memory_bytes: int(gpu.memoryBytes) } : null,
    fits: est.fits,
    headroom_bytes: int(est.headroomBytes),
    model: {
      id: report.modelId,
      source: report.modelSource,
      total_params: est.params.total,
      trainable_params: est.params.trainable,
    },
    num_gpus: est.numGpus,
    distributed: est.strategy ?? 'none',
    gradient_accumulation_steps: report.plan.training.gradient_accumulation_steps,
    suggestions: fit.suggestions.map((s) => ({
      kind: s.kind,
      title: s.title,
      peak_bytes: int(s.peakBytes),
      fits: s.fits,
    })),
    make_it_fit: fit.makeItFit
      ? { changes: fit.makeItFit.changes, peak_bytes: int(fit.makeItFit.estimate.peakBytes) }
      : null,
    recommended_method: recommendation.method,
    recommendation: recommendation.text,
    throughput: throughput
      ? {
          tokens_per_second: Math.round(throughput.tokensPerSecond),
          step_seconds: throughput.stepSeconds,
          bound: throughput.bound,
          cpu_optimizer_seconds: throughput.cpuOptimizer?.secondsPerStep ?? null,
        }
      : null,
    time: time
      ? { steps: time.steps, seconds: Math.round(time.seconds), cost: time.cost, rows_estimated: time.rowsEstimated }
      : null,
    load_ram: { bytes: int(report.loadRam.bytes), kind: report.loadRam.kind },
    gpu_counts: report.gpuCounts.map((r) => ({ gpus: r.gpus, peak_bytes: int(r.peakBytes), fits: r.fits })),
    offload_ram: report.offloadRam ? { bytes: int(report.offloadRam.bytes), parts: report.offloadRam.parts } : null,
    evaluation: evaluationJson(report.evaluation),
    merge_export: exportJson(report.mergeExport),
    ...(comparison
      ? {
          compare: comparison.map((c) => ({
            method: c.method,
            current: c.current,
            peak_bytes: int(c.peakBytes),
            fits: c.fits,
            tokens_per_second: c.tokensPerSecond === null ? null : Math.round(c.tokensPerSecond),
            seconds: c.seconds === null ? null : Math.round(c.seconds),
            steps: c.steps,
            cost: c.cost,
            fastest_that_fits: c.fastestThatFits,
          })),
        }
      : {}),
    assumptions: report.assumptions,
    errors,
    notes: [...(gpuNote ? [gpuNote] : []), ...report.notes],
  };
}

/** The evaluation estimate in the JSON report: byte counts as integers. */
function evaluationJson(e: EvaluationEstimate): Record<string, unknown> {
  return {
    peak_bytes: int(e.peakBytes),
    peak_allocated_bytes: int(e.peakAllocatedBytes),
    peak_pass: e.peakPass,
    fits: e.fits,
    headroom_bytes: int(e.headroomBytes),
    passes: e.passes.map((p) => ({ name: p.name, bytes: int(p.bytes) })),
    breakdown: e.breakdown.map((t) => ({ term: t.key, label: t.label, bytes: int(t.bytes) })),
    batch_size: e.batchSize,
    prompt_tokens: e.promptTokens,
    max_new_tokens: e.maxNewTokens,
    kv_cache_bytes: int(e.kvCacheBytes),
    generation_tokens_per_second: e.generationTokensPerSecond === null ? null : Math.round(e.generationTokensPerSecond),
    base_generation_tokens_per_second: e.baseTokensPerSecond === null ? null : Math.round(e.baseTokensPerSecond),
    prompts: e.prompts,
    generation_seconds: e.generationSeconds === null ? null : Math.round(e.generationSeconds),
  };
}

/** "≈ 2 h 10 min on H100 80GB · 1,250 steps · 9,800 tokens/s · cost 5.42"; why not, when it cannot be said. */
function timeLine(gpu: GpuSpec | null, throughput: ThroughputEstimate | null, time: TrainingTime | null): string {
  if (!gpu) return '';
  if (!throughput)
    return `time: unknown for a GPU given by its size only (name the card, e.g. --gpu "RTX 4090", for its speed)`;
  const rate = `${Math.round(throughput.tokensPerSecond).toLocaleString('en-US')} tokens/s`;
  if (!time) return `time: ${rate} on ${gpu.name}; the total needs the dataset (data.train) or training.max_steps`;
  const cost = time.cost === null ? '' : ` · cost ≈ ${time.cost.toFixed(2)}`;
  return (
    `time: ≈ ${formatDurationShort(time.seconds)} on ${gpu.name} · ${time.steps.toLocaleString('en-US')} steps · ${rate}${cost}` +
    (time.rowsEstimated ? ' (row count estimated)' : '')
  );
}

/** The head-to-head table; the fastest method that fits is marked. */
function comparisonTable(rows: MethodComparison[]): string[] {
  const cell = (c: MethodComparison): string[] => [
    `${c.method}${c.current ? ' (this config)' : ''}`,
    formatGiB(c.peakBytes),
    c.fits === null ? '?' : c.fits ? 'yes' : 'no',
    c.tokensPerSecond === null ? '–' : Math.round(c.tokensPerSecond).toLocaleString('en-US'),
    c.seconds === null ? '–' : formatDurationShort(c.seconds),
    c.cost === null ? '–' : c.cost.toFixed(2),
  ];
  const table = [['method', 'peak', 'fits', 'tokens/s', 'time', 'cost'], ...rows.map(cell)];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  return table.map((r, i) =>
    `  ${r.map((v, j) => v.padEnd(widths[j]!)).join('  ')}${i > 0 && rows[i - 1]!.fastestThatFits ? '  ← fastest that fits' : ''}`.trimEnd(),
  );
}

/** The header's checkpointing: every layer, or how many `auto` chose (training.checkpoint_layers). */
function checkpointingText(plan: TrainingPlan): string {
  const t = plan.training;
  if (!t.gradient_checkpointing || t.checkpoint_layers === 0) return '';
  const offloaded = t.activation_offloading ? ', inputs offloaded' : '';
  if (t.checkpoint_layers === undefined) return ` · gradient checkpointing${offloaded}`;
  return ` · gradient checkpointing: first ${t.checkpoint_layers} layers${offloaded}${t.checkpoint_auto ? ' (auto)' : ''}`;
}

/** The table: one unit per figure (GiB; parameter counts in B or M as their size asks). */
function toText({ report, gpuNote, comparison }: Result): string {
  const { plan, estimate: est, gpu, fit, recommendation, throughput, time } = report;
  const out: string[] = [];
  out.push(
    `${report.modelId} (${report.modelSource}) · ${plan.method} · ${plan.precision} · micro batch ${plan.training.per_device_train_batch_size} × ${plan.data.max_length} tokens` +
      `${plan.training.gradient_accumulation_steps > 1 ? ` · accumulation ${plan.training.gradient_accumulation_steps}` : ''}` +
      `${checkpointingText(plan)} · engine ${est.engine}${est.calibrated ? '' : ' (not yet calibrated)'}`,
  );
  out.push(`parameters: ${formatCount(est.params.total)} total, ${formatCount(est.params.trainable)} trainable`, '');
  const width = Math.max(...est.breakdown.map((t) => t.label.length), 28);
  for (const t of est.breakdown)
    out.push(`  ${t.label.padEnd(width)} ${(t.bytes / 2 ** 30).toFixed(2).padStart(8)} GiB`);
  out.push(
    `  ${`peak${perGpu(est)} (at ${est.peakPhase})`.padEnd(width)} ${(est.peakBytes / 2 ** 30).toFixed(2).padStart(8)} GiB`,
  );
  // The allocator's cache can hold more than the peak, never more than the card: said as a share of the card then.
  if (est.reservedBytesMax > est.peakBytes) {
    out.push(
      gpu && est.reservedBytesMax >= gpu.memoryBytes
        ? `  the allocator may reserve all of the card's ${formatGiB(gpu.memoryBytes)} (nvidia-smi shows it as used)`
        : `  nvidia-smi may show up to ${formatGiB(est.reservedBytesMax)} (the allocator's cache)`,
    );
  }
  out.push('');
  if (!gpu)
    out.push(
      `GPU: ${gpuNote || 'unknown'}; pass --gpu GPU to check the fit (lora-lens estimate --help lists the forms)`,
    );
  else
    out.push(
      est.fits
        ? `fits ${gpu.name} (${formatGiB(gpu.memoryBytes)}): ${formatGiB(est.headroomBytes ?? 0)} free`
        : `DOES NOT FIT ${gpu.name} (${formatGiB(gpu.memoryBytes)}): ${formatGiB(-(est.headroomBytes ?? 0))} over`,
    );
  if (fit.makeItFit)
    out.push(`make it fit: ${fit.makeItFit.changes.join(', ')} → ${formatGiB(fit.makeItFit.estimate.peakBytes)}`);
  for (const s of fit.suggestions) out.push(`  - ${s.title}`);
  const counts = gpuCountsLine(report.gpuCounts, report.plan, gpu);
  if (counts) out.push(counts);
  out.push(`evaluation: ${trainingAndEvaluationLine(est, report.evaluation)}`);
  out.push(`  ${evaluationDetail(report.evaluation)} (lora-lens eval --batch-size, --max-new-tokens)`);
  out.push(`after training: ${exportLine(report.mergeExport, est)}`);
  out.push(`  ${exportDetail(report.mergeExport)}`);
  const timeText = timeLine(gpu, throughput, time);
  if (timeText) out.push(timeText);
  // The host's share of the step, each on its own line under the time (and not again among the notes).
  const hostLines = throughput?.hostLines ?? [];
  for (const line of hostLines) out.push(`  ${line}`);
  out.push(loadRamLine(report.loadRam));
  if (report.offloadRam) out.push(offloadRamLine(report.offloadRam, report.plan.hardware.num_gpus));
  if (gpu) out.push(recommendation.text);
  if (comparison) out.push('', 'full / LoRA / QLoRA for this config:', ...comparisonTable(comparison));
  for (const a of report.assumptions) out.push(`assumed: ${a}`);
  for (const n of report.notes) if (!hostLines.includes(n)) out.push(`note: ${n}`);
  return `${out.join('\n')}\n`;
}
