/**
 * Text for the editor: the inlay hint, the hover (breakdown table, reserve range, what would fit), and the data of
 * the `memory-no-fit` diagnostic with its quick fixes. Pure functions; the language server places them.
 */
import type { QuickFix } from '../edits/configEdits';
import type { TrainingPlan } from '../plan/types';
import type { FitSuggestion, MethodAdvice } from './suggest';
import { qloraEdits } from './suggest';
import type { Estimate } from './types';

const GiB = 2 ** 30;
/** Bytes as GiB with one decimal ("18.9 GiB"). */
export function formatGiB(bytes: number, digits = 1): string {
  return `${(bytes / GiB).toFixed(digits)} GiB`;
}

/** The inlay hint: "≈ 18.9 GiB peak · fits H100 80GB (61 GiB free)". */
export function inlayLabel(est: Estimate): string {
  const head = `≈ ${formatGiB(est.peakBytes)} peak`;
  const perGpu = est.numGpus > 1 ? ' per GPU' : '';
  if (!est.gpu || est.fits === null || est.headroomBytes === null) return `${head}${perGpu} · no GPU detected`;
  if (est.fits) return `${head}${perGpu} · fits ${est.gpu.name} (${formatGiB(est.headroomBytes, 0)} free)`;
  return `${head}${perGpu} · does not fit ${est.gpu.name} (${formatGiB(-est.headroomBytes)} over)`;
}

/** Markdown hover: breakdown at the peak, when the peak happens, the reserve range, what would fit, notes. */
export function hoverMarkdown(est: Estimate, suggestions: FitSuggestion[] = [], advice?: MethodAdvice): string {
  const lines: string[] = [];
  lines.push(`**Memory estimate** (${est.engine} engine${est.calibrated ? '' : ', not yet calibrated'}): **${formatGiB(est.peakBytes)}** at the peak (${est.peakPhase})`);
  lines.push('', '| term | GiB |', '| --- | ---: |');
  for (const t of est.breakdown) lines.push(`| ${t.label} | ${(t.bytes / GiB).toFixed(2)} |`);
  lines.push(`| **peak (allocated + context)** | **${(est.peakBytes / GiB).toFixed(2)}** |`);
  lines.push('', `nvidia-smi may show up to ${formatGiB(est.reservedBytesMax)} (PyTorch's cache, handed back under pressure): ` +
    `range ${formatGiB(est.peakBytes)} – ${formatGiB(est.reservedBytesMax)}.`);
  lines.push(`Parameters: ${(est.params.total / 1e9).toFixed(2)} B total, ${(est.params.trainable / 1e6).toFixed(1)} M trainable.`);
  if (est.gpu) {
    lines.push(est.fits
      ? `Fits ${est.gpu.name} (${formatGiB(est.gpu.memoryBytes)}) with ${formatGiB(est.headroomBytes ?? 0)} free.`
      : `Does **not** fit ${est.gpu.name} (${formatGiB(est.gpu.memoryBytes)}): ${formatGiB(-(est.headroomBytes ?? 0))} over.`);
  } else lines.push('No GPU detected: set `hardware.gpu` (e.g. "RTX 4090" or "24GiB") to see whether it fits.');
  if (suggestions.length) {
    lines.push('', '**What would fit**');
    for (const s of suggestions) lines.push(`- ${s.title}${s.fits === null ? '' : s.fits ? ' ✓ fits' : ' ✗ still too big'}`);
  }
  if (advice && advice.ruleOfThumb !== undefined && est.gpu) {
    lines.push('', `Recommended method: ${advice.byEstimate ?? 'none fits this GPU'} by this estimate; ` +
      `the rule of thumb (≥4× / 1.5× / 0.5× the ${formatGiB(advice.fp16ModelBytes)} fp16 model for full / LoRA / QLoRA) says ${advice.ruleOfThumb ?? 'none'}.`);
  }
  for (const n of est.notes) lines.push('', `_${n}_`);
  return lines.join('\n');
}

export const MEMORY_NO_FIT = 'memory-no-fit';

export interface NoFitDiagnostic {
  code: typeof MEMORY_NO_FIT;
  severity: 'error';
  message: string;
  /** Where the lead anchors the diagnostic (the model key is the natural place). */
  path: (string | number)[];
  data: { peakBytes: number; gpuBytes: number; fixes: QuickFix[] };
}

/** The `memory-no-fit` diagnostic, or null when the plan fits or no GPU is known. */
export function noFitDiagnostic(est: Estimate, plan: TrainingPlan, suggestions: FitSuggestion[] = []): NoFitDiagnostic | null {
  if (est.fits !== false || !est.gpu) return null;
  const fixes: QuickFix[] = [];
  const t = plan.training;
  const by = (k: FitSuggestion['kind']) => suggestions.find((s) => s.kind === k);
  const preferred = suggestions.find((s) => s.fits)?.kind;
  if (!t.gradient_checkpointing) {
    fixes.push({ title: `Enable gradient checkpointing${by('gradient_checkpointing') ? ` (${by('gradient_checkpointing')!.title.split(': ')[1]})` : ''}`,
      edits: [{ kind: 'set', path: ['training', 'gradient_checkpointing'], value: true }], isPreferred: preferred === 'gradient_checkpointing' });
  }
  if (plan.method !== 'qlora') {
    fixes.push({ title: `Switch to QLoRA${by('qlora') ? ` (${by('qlora')!.title.split(': ')[1]})` : ''}`, edits: qloraEdits(plan), isPreferred: preferred === 'qlora' });
  }
  if (t.per_device_train_batch_size > 1) {
    const mb = Math.floor(t.per_device_train_batch_size / 2);
    const ga = Math.ceil((t.per_device_train_batch_size * t.gradient_accumulation_steps) / mb);
    fixes.push({ title: `Halve the micro batch to ${mb} and raise accumulation to ${ga} (same effective batch)`,
      edits: [{ kind: 'set', path: ['training', 'per_device_train_batch_size'], value: mb }, { kind: 'set', path: ['training', 'gradient_accumulation_steps'], value: ga }],
      isPreferred: preferred === 'halve_batch' });
  }
  return {
    code: MEMORY_NO_FIT,
    severity: 'error',
    message: `Estimated peak ${formatGiB(est.peakBytes)} does not fit ${est.gpu.name} (${formatGiB(est.gpu.memoryBytes)}); the run would stop with CUDA out of memory.`,
    path: ['model'],
    data: { peakBytes: est.peakBytes, gpuBytes: est.gpu.memoryBytes, fixes },
  };
}
