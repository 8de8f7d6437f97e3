/**
 * `lora-lens estimate FILE [--gpu NAME|SIZE] [--engine hf|lora-lens] [--json]`: the memory estimate of a config
 * as a table or JSON. Exit 0 when it fits (or no GPU is known), 1 when it does not fit or the config has errors,
 * 2 on usage or I/O errors.
 */
import { dirname } from 'node:path';
import { severityName } from '../diagnostics';
import { detectGpus } from '../gpu/detect';
import { gpuFromSetting } from '../gpu/catalog';
import type { GpuSpec } from '../gpu/types';
import { estimateMemory, estimateOptionsFor } from '../memory/estimate';
import { formatGiB } from '../memory/presentation';
import { recommendMethod } from '../memory/recommend';
import { makeItFit, whatWouldFit } from '../memory/suggest';
import { resolveModel } from '../models/resolve';
import { buildPlan } from '../services/buildPlan';
import type { Engine } from '../plan/types';
import { readConfigFile } from './readConfigFile';

const USAGE = 'usage: lora-lens estimate FILE [--gpu NAME|SIZE] [--engine hf|lora-lens] [--json]';

interface Io { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; cwd: string }

interface Args { file: string; gpu: string | null; engine: Engine | null; json: boolean }

function parseArgs(args: string[]): Args | string {
  const out: Args = { file: '', gpu: null, engine: null, json: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? args[++i];
    if (flag === '--json') out.json = true;
    else if (flag === '--gpu') { const v = value(); if (!v) return '--gpu needs a value'; out.gpu = v; }
    else if (flag === '--engine') {
      const v = value();
      if (v !== 'hf' && v !== 'lora-lens') return `--engine must be hf or lora-lens, not "${v ?? ''}"`;
      out.engine = v;
    } else if (a.startsWith('-')) return `unknown option ${a}`;
    else if (out.file) return 'only one FILE';
    else out.file = a;
  }
  return out.file ? out : 'no FILE given';
}

/** Runs `lora-lens estimate`; resolves to the exit code. */
export async function runCommand(args: string[], io: Io): Promise<number> {
  if (args.includes('-h') || args.includes('--help')) { io.stdout.write(`${USAGE}\n`); return 0; }
  const parsed = parseArgs(args);
  if (typeof parsed === 'string') { io.stderr.write(`lora-lens estimate: ${parsed}\n${USAGE}\n`); return 2; }
  const read = await readConfigFile(parsed.file, io.cwd);
  if (!read.ok) { io.stderr.write(`lora-lens estimate: ${read.message}\n`); return 2; }

  const { plan, diagnostics } = buildPlan(read.text, read.path);
  const errors = diagnostics.filter((d) => severityName(d.severity) === 'error');
  if (!plan || errors.length) {
    for (const d of errors) io.stderr.write(`${parsed.file}:${d.range.start.line + 1}:${d.range.start.character + 1}: error ${String(d.code ?? '')} ${String(d.message)}\n`);
    if (!errors.length) io.stderr.write(`lora-lens estimate: ${parsed.file}: no training plan could be built\n`);
    return 1;
  }
  const model = resolveModel(plan.model, { configDir: dirname(read.path) });
  if (!model.ok) { io.stderr.write(`lora-lens estimate: ${model.message}\n`); return 1; }

  let gpu: GpuSpec | null = null;
  let gpuNote = '';
  const setting = parsed.gpu ?? plan.hardware.gpu;
  if (setting && setting !== 'auto') {
    const g = gpuFromSetting(setting);
    if (!g.ok) { io.stderr.write(`lora-lens estimate: ${g.message}\n`); return parsed.gpu ? 2 : 1; }
    gpu = g.gpu;
  } else {
    const d = await detectGpus();
    if (d.ok) gpu = d.gpus[0]!;
    else gpuNote = d.message;
  }

  const engine = parsed.engine ?? plan.engine;
  const estimateOptions = estimateOptionsFor(engine, process.platform);
  const est = estimateMemory(model.spec, plan, gpu, estimateOptions);
  const suggestions = est.fits === false ? whatWouldFit(model.spec, plan, gpu, estimateOptions) : [];
  const fix = est.fits === false ? makeItFit(model.spec, plan, gpu, estimateOptions) : null;
  const advice = recommendMethod(model.spec, plan, gpu, estimateOptions);

  if (parsed.json) {
    io.stdout.write(`${JSON.stringify({
      file: parsed.file,
      engine: est.engine,
      calibrated: est.calibrated,
      peak_bytes: est.peakBytes,
      peak_allocated_bytes: est.peakAllocatedBytes,
      reserved_bytes_max: est.reservedBytesMax,
      peak_phase: est.peakPhase,
      breakdown: est.breakdown.map((t) => ({ term: t.key, label: t.label, bytes: Math.round(t.bytes) })),
      gpu: gpu ? { name: gpu.name, memory_bytes: gpu.memoryBytes } : null,
      fits: est.fits,
      headroom_bytes: est.headroomBytes,
      model: { id: model.spec.id, source: model.source, total_params: est.params.total, trainable_params: est.params.trainable },
      num_gpus: est.numGpus,
      suggestions: suggestions.map((s) => ({ kind: s.kind, title: s.title, peak_bytes: Math.round(s.peakBytes), fits: s.fits })),
      make_it_fit: fix ? { changes: fix.changes, peak_bytes: Math.round(fix.estimate.peakBytes) } : null,
      recommended_method: advice.method,
      recommendation: advice.text,
      notes: gpuNote ? [gpuNote, ...est.notes] : est.notes,
    }, null, 2)}\n`);
  } else {
    const w = (s: string) => io.stdout.write(`${s}\n`);
    w(`${model.spec.id} (${model.source}) · ${plan.method} · ${plan.precision} · micro batch ${plan.training.per_device_train_batch_size} × ${plan.data.max_length} tokens` +
      `${plan.training.gradient_checkpointing ? ' · gradient checkpointing' : ''} · engine ${est.engine}${est.calibrated ? '' : ' (not yet calibrated)'}`);
    w(`parameters: ${(est.params.total / 1e9).toFixed(2)} B total, ${(est.params.trainable / 1e6).toFixed(1)} M trainable`);
    w('');
    const width = Math.max(...est.breakdown.map((t) => t.label.length), 28);
    for (const t of est.breakdown) w(`  ${t.label.padEnd(width)} ${(t.bytes / 2 ** 30).toFixed(2).padStart(8)} GiB`);
    w(`  ${`peak (at ${est.peakPhase})`.padEnd(width)} ${(est.peakBytes / 2 ** 30).toFixed(2).padStart(8)} GiB`);
    w(`  nvidia-smi may show up to ${formatGiB(est.reservedBytesMax)} (allocator cache)`);
    w('');
    if (!gpu) w(`GPU: ${gpuNote || 'unknown'}; pass --gpu NAME|SIZE to check the fit`);
    else w(est.fits ? `fits ${gpu.name} (${formatGiB(gpu.memoryBytes)}): ${formatGiB(est.headroomBytes ?? 0)} free`
      : `DOES NOT FIT ${gpu.name} (${formatGiB(gpu.memoryBytes)}): ${formatGiB(-(est.headroomBytes ?? 0))} over`);
    if (fix) w(`make it fit: ${fix.changes.join(', ')} → ${formatGiB(fix.estimate.peakBytes)}`);
    for (const s of suggestions) w(`  - ${s.title}`);
    if (gpu) w(advice.text);
    for (const n of est.notes) w(`note: ${n}`);
  }
  return est.fits === false ? 1 : 0;
}
