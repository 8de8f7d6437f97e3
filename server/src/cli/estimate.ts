/**
 * `lora-lens estimate FILE [--gpu GPU] [--engine hf|lora-lens] [--compare] [--json]`: the memory estimate of a config,
 * its speed, time and cost (server/src/throughput), and with --compare the full/LoRA/QLoRA head-to-head, as a table
 * or JSON. It goes through the editor's analysis (analyzeConfig, like `check`), so the two agree on errors.
 * Exit 0 when it fits (or no GPU is known), 1 when it does not fit or the config has errors, 2 on usage or I/O errors.
 */
import { detectGpus } from '../runs/gpuDetect';
import type { GpuSpec } from '../core/gpu/types';
import { estimateMemory, estimateOptionsFor } from '../core/estimate/memory/estimate';
import type { Estimate } from '../core/estimate/memory/types';
import { formatCount, formatGiB, MEMORY_NO_FIT } from '../core/estimate/memory/presentation';
import { recommendMethod, type MethodRecommendation } from '../core/estimate/memory/recommend';
import { dataSizeOf, makeItFit, whatWouldFit, type FitPlan, type FitSuggestion } from '../core/estimate/memory/suggest';
import type { ModelResolution } from '../core/models/types';
import type { Engine, TrainingPlan } from '../core/plan/types';
import { compareMethods, type MethodComparison } from '../core/estimate/throughput/compare';
import { estimateThroughput, type ThroughputEstimate } from '../core/estimate/throughput/estimate';
import { estimateTrainingTime, formatDurationShort, type TrainingTime } from '../core/estimate/throughput/time';
import { analyzeForCli, cliGpu } from './analysisEnvironment';
import { ExitCode, type CliIO } from './io';
import { GPU_FORMS, helpText, parseArgs, shortUsage, type CommandSpec } from './options';
import { readConfigFile } from './readConfigFile';
import { errorReport } from './report';

export const ESTIMATE: CommandSpec = {
  name: 'estimate',
  usage: ['FILE [options]'],
  summary: 'Peak GPU memory of a config, term by term, against a GPU (the one given, the config\'s hardware.gpu, or the\n'
    + 'first one nvidia-smi lists), with the least change that makes it fit and the recommended method. FILE - reads stdin.',
  options: [
    { name: 'gpu', value: 'GPU', help: 'the GPU to check the fit against (overrides hardware.gpu)' },
    { name: 'engine', value: 'hf|lora-lens', help: 'which trainer\'s memory profile (default: the config\'s engine)' },
    { name: 'compare', help: 'a head-to-head of full fine-tuning, LoRA and QLoRA for this config: peak memory, fits, tokens/s, time, cost' },
    { name: 'cost-per-hour', value: 'RATE', help: 'one GPU\'s hourly price for the cost estimate (overrides hardware.cost_per_hour)' },
    { name: 'offline', help: 'look no model up on the Hugging Face Hub (HF_HUB_OFFLINE does the same); models fetched before are still read from the cache' },
  ],
  notes: [GPU_FORMS, 'exit: 0 fits (or no GPU known), 1 does not fit or the config has errors, 2 usage error or unreadable file.'],
  positionals: [1, 1],
  positionalName: 'FILE',
};

interface Result {
  file: string; plan: TrainingPlan; model: Extract<ModelResolution, { ok: true }>; gpu: GpuSpec | null; gpuNote: string;
  est: Estimate; suggestions: FitSuggestion[]; fix: FitPlan | null; advice: MethodRecommendation;
  throughput: ThroughputEstimate | null; time: TrainingTime | null; comparison: MethodComparison[] | null;
}

/** Runs `lora-lens estimate`; resolves to the exit code. */
export async function runCommand(args: string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(ESTIMATE, args);
  if (typeof parsed === 'string') { io.stderr.write(`lora-lens estimate: ${parsed}\n${shortUsage(ESTIMATE)}\n`); return ExitCode.usage; }
  if (parsed.help) { io.stdout.write(helpText(ESTIMATE)); return ExitCode.ok; }
  const engineArg = parsed.values.get('engine');
  if (engineArg !== undefined && engineArg !== 'hf' && engineArg !== 'lora-lens') {
    io.stderr.write(`lora-lens estimate: --engine must be hf or lora-lens, not "${engineArg}"\n`);
    return ExitCode.usage;
  }
  let override: GpuSpec | null = null;
  const gpuArg = parsed.values.get('gpu');
  if (gpuArg !== undefined) {
    const lookup = cliGpu(gpuArg);
    if (!lookup.ok) { io.stderr.write(`lora-lens estimate: --gpu ${gpuArg}: ${lookup.message}\n${GPU_FORMS}\n`); return ExitCode.usage; }
    override = lookup.gpu;
  }
  const rateArg = parsed.values.get('cost-per-hour');
  const rate = rateArg === undefined ? undefined : Number(rateArg);
  if (rate !== undefined && !(Number.isFinite(rate) && rate >= 0)) {
    io.stderr.write(`lora-lens estimate: --cost-per-hour must be a number ≥ 0, not "${rateArg}"\n`);
    return ExitCode.usage;
  }
  const file = parsed.positionals[0]!;
  const shown = file === '-' ? '<stdin>' : file;
  const read = await readConfigFile(file, io.cwd, io.stdin);
  if (!read.ok) { io.stderr.write(`lora-lens estimate: ${read.message}\n`); return ExitCode.usage; }

  const analysis = await analyzeForCli(read.text, read.path, { hub: !parsed.flags.has('offline') });
  // The fit against the config's own GPU is this command's verdict, not a config error.
  const errors = analysis.diagnostics.filter((d) => d.code !== MEMORY_NO_FIT);
  const report = errorReport(shown, errors, 'fix them first');
  if (report || !analysis.plan) {
    const why = analysis.dialect.notChecked ?? analysis.diagnostics.find((d) => d.code === 'dialect-not-a-training-config')?.message;
    io.stderr.write(report || `lora-lens estimate: ${shown}: ${why ?? 'no training plan could be built (method, model and data.train are needed)'}\n`);
    return ExitCode.problems;
  }
  const model = analysis.model;
  if (!model?.ok) { io.stderr.write(`lora-lens estimate: ${model?.message ?? 'the model could not be resolved'}\n`); return ExitCode.problems; }

  const plan: TrainingPlan = engineArg ? { ...analysis.plan, engine: engineArg as Engine } : analysis.plan;
  const gpu = override ?? analysis.gpu;
  const gpuNote = gpu ? '' : await detectGpus().then((d) => (d.ok ? '' : d.message));
  const opts = estimateOptionsFor(plan.engine, process.platform);
  const est = analysis.estimate && !override && !engineArg ? analysis.estimate : estimateMemory(model.spec, plan, gpu, opts);
  const data = dataSizeOf(analysis.dataset);
  const costPerHour = rate ?? plan.hardware.cost_per_hour ?? null;
  const time = estimateTrainingTime(model.spec, plan, gpu, analysis.dataset, costPerHour);
  const result: Result = {
    file: shown, plan, model, gpu, gpuNote, est,
    throughput: time?.throughput ?? estimateThroughput(model.spec, plan, gpu),
    time,
    comparison: parsed.flags.has('compare') ? compareMethods(model.spec, plan, gpu, analysis.dataset, costPerHour, opts) : null,
    suggestions: est.fits === false ? whatWouldFit(model.spec, plan, gpu, opts, data) : [],
    fix: est.fits === false ? makeItFit(model.spec, plan, gpu, opts, data) : null,
    advice: recommendMethod(model.spec, plan, gpu, opts, data),
  };
  io.stdout.write(parsed.format === 'json' ? `${JSON.stringify(toJson(result), null, 2)}\n` : toText(result));
  return est.fits === false ? ExitCode.problems : ExitCode.ok;
}

const int = (bytes: number | null | undefined) => (typeof bytes === 'number' ? Math.round(bytes) : null);

/** The JSON report: byte counts are integers. */
function toJson({ file, model, gpu, gpuNote, est, suggestions, fix, advice, throughput, time, comparison }: Result): Record<string, unknown> {
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
    model: { id: model.spec.id, source: model.source, total_params: est.params.total, trainable_params: est.params.trainable },
    num_gpus: est.numGpus,
    suggestions: suggestions.map((s) => ({ kind: s.kind, title: s.title, peak_bytes: int(s.peakBytes), fits: s.fits })),
    make_it_fit: fix ? { changes: fix.changes, peak_bytes: int(fix.estimate.peakBytes) } : null,
    recommended_method: advice.method,
    recommendation: advice.text,
    throughput: throughput ? { tokens_per_second: Math.round(throughput.tokensPerSecond), step_seconds: throughput.stepSeconds, bound: throughput.bound } : null,
    time: time ? { steps: time.steps, seconds: Math.round(time.seconds), cost: time.cost, rows_estimated: time.rowsEstimated } : null,
    ...(comparison ? { compare: comparison.map((c) => ({
      method: c.method, current: c.current, peak_bytes: int(c.peakBytes), fits: c.fits,
      tokens_per_second: c.tokensPerSecond === null ? null : Math.round(c.tokensPerSecond), seconds: c.seconds === null ? null : Math.round(c.seconds),
      steps: c.steps, cost: c.cost, fastest_that_fits: c.fastestThatFits,
    })) } : {}),
    notes: [...(gpuNote ? [gpuNote] : []), ...est.notes, ...(time?.notes ?? []), ...(throughput?.notes ?? [])],
  };
}

/** "≈ 2 h 10 min on H100 80GB · 1,250 steps · 9,800 tokens/s · cost 5.42"; why not, when it cannot be said. */
function timeLine(gpu: GpuSpec | null, throughput: ThroughputEstimate | null, time: TrainingTime | null): string {
  if (!gpu) return '';
  if (!throughput) return `time: unknown for a GPU given by its size only (name the card, e.g. --gpu "RTX 4090", for its speed)`;
  const rate = `${Math.round(throughput.tokensPerSecond).toLocaleString('en-US')} tokens/s`;
  if (!time) return `time: ${rate} on ${gpu.name}; the total needs the dataset (data.train) or training.max_steps`;
  const cost = time.cost === null ? '' : ` · cost ≈ ${time.cost.toFixed(2)}`;
  return `time: ≈ ${formatDurationShort(time.seconds)} on ${gpu.name} · ${time.steps.toLocaleString('en-US')} steps · ${rate}${cost}`
    + (time.rowsEstimated ? ' (row count estimated)' : '');
}

/** The head-to-head table; the fastest method that fits is marked. */
function comparisonTable(rows: MethodComparison[]): string[] {
  const cell = (c: MethodComparison): string[] => [
    `${c.method}${c.current ? ' (this config)' : ''}`, formatGiB(c.peakBytes), c.fits === null ? '?' : c.fits ? 'yes' : 'no',
    c.tokensPerSecond === null ? '–' : Math.round(c.tokensPerSecond).toLocaleString('en-US'),
    c.seconds === null ? '–' : formatDurationShort(c.seconds), c.cost === null ? '–' : c.cost.toFixed(2),
  ];
  const table = [['method', 'peak', 'fits', 'tokens/s', 'time', 'cost'], ...rows.map(cell)];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  return table.map((r, i) => `  ${r.map((v, j) => v.padEnd(widths[j]!)).join('  ')}${i > 0 && rows[i - 1]!.fastestThatFits ? '  ← fastest that fits' : ''}`.trimEnd());
}

/** The table: one unit per figure (GiB; parameter counts in B or M as their size asks). */
function toText({ plan, model, gpu, gpuNote, est, suggestions, fix, advice, throughput, time, comparison }: Result): string {
  const out: string[] = [];
  out.push(`${model.spec.id} (${model.source}) · ${plan.method} · ${plan.precision} · micro batch ${plan.training.per_device_train_batch_size} × ${plan.data.max_length} tokens`
    + `${plan.training.gradient_checkpointing ? ' · gradient checkpointing' : ''} · engine ${est.engine}${est.calibrated ? '' : ' (not yet calibrated)'}`);
  out.push(`parameters: ${formatCount(est.params.total)} total, ${formatCount(est.params.trainable)} trainable`, '');
  const width = Math.max(...est.breakdown.map((t) => t.label.length), 28);
  for (const t of est.breakdown) out.push(`  ${t.label.padEnd(width)} ${(t.bytes / 2 ** 30).toFixed(2).padStart(8)} GiB`);
  out.push(`  ${`peak (at ${est.peakPhase})`.padEnd(width)} ${(est.peakBytes / 2 ** 30).toFixed(2).padStart(8)} GiB`);
  // The allocator's cache can hold more than the peak, never more than the card: said as a share of the card then.
  if (est.reservedBytesMax > est.peakBytes) {
    out.push(gpu && est.reservedBytesMax >= gpu.memoryBytes
      ? `  the allocator may reserve all of the card's ${formatGiB(gpu.memoryBytes)} (nvidia-smi shows it as used)`
      : `  nvidia-smi may show up to ${formatGiB(est.reservedBytesMax)} (the allocator's cache)`);
  }
  out.push('');
  if (!gpu) out.push(`GPU: ${gpuNote || 'unknown'}; pass --gpu GPU to check the fit (lora-lens estimate --help lists the forms)`);
  else out.push(est.fits ? `fits ${gpu.name} (${formatGiB(gpu.memoryBytes)}): ${formatGiB(est.headroomBytes ?? 0)} free`
    : `DOES NOT FIT ${gpu.name} (${formatGiB(gpu.memoryBytes)}): ${formatGiB(-(est.headroomBytes ?? 0))} over`);
  if (fix) out.push(`make it fit: ${fix.changes.join(', ')} → ${formatGiB(fix.estimate.peakBytes)}`);
  for (const s of suggestions) out.push(`  - ${s.title}`);
  const timeText = timeLine(gpu, throughput, time);
  if (timeText) out.push(timeText);
  if (gpu) out.push(advice.text);
  if (comparison) out.push('', 'full / LoRA / QLoRA for this config:', ...comparisonTable(comparison));
  for (const n of [...est.notes, ...(time?.notes ?? []), ...(throughput?.notes ?? [])]) out.push(`note: ${n}`);
  return `${out.join('\n')}\n`;
}
