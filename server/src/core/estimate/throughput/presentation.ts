/**
 * How speed, time and cost read in the editor: the Run Fine-Tune CodeLens's suffix ("≈ 2 h 10 min on H100 80GB ·
 * 1,250 steps") and the hover's head-to-head table. Pure text.
 */
import { formatGiB } from '../memory/presentation';
import type { MethodComparison } from './compare';
import { formatDurationShort, type TrainingTime } from './time';

const count = (n: number) => Math.round(n).toLocaleString('en-US');

/** "≈ 2 h 10 min on H100 80GB · 1,250 steps" (" · cost ≈ 4.20" with a rate); null without a time. */
export function timeSummary(time: TrainingTime | null): string | null {
  if (!time) return null;
  const cost = time.cost === null ? '' : ` · cost ≈ ${time.cost.toFixed(2)}`;
  return `≈ ${formatDurationShort(time.seconds)} on ${time.throughput.gpuName} · ${count(time.steps)} steps${cost}`;
}

const METHOD_NAME: Record<MethodComparison['method'], string> = {
  full: 'Full fine-tuning',
  lora: 'LoRA',
  qlora: 'QLoRA',
};

/** The hover's table: full / LoRA / QLoRA with peak memory, fit, tokens/s, time and cost; the fastest that fits in bold. */
export function comparisonMarkdown(rows: MethodComparison[], time: TrainingTime | null): string {
  const hasTime = rows.some((r) => r.seconds !== null);
  const hasCost = rows.some((r) => r.cost !== null);
  const head = ['Method', 'Peak', 'Fits', 'Tokens/s', ...(hasTime ? ['Time'] : []), ...(hasCost ? ['Cost'] : [])];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`];
  for (const r of rows) {
    const name = `${METHOD_NAME[r.method]}${r.current ? ' (this config)' : ''}`;
    const cells = [
      r.fastestThatFits ? `**${name}**` : name,
      formatGiB(r.peakBytes),
      r.fits === null ? '?' : r.fits ? 'yes' : 'no',
      r.tokensPerSecond === null ? '–' : count(r.tokensPerSecond),
      ...(hasTime ? [r.seconds === null ? '–' : formatDurationShort(r.seconds)] : []),
      ...(hasCost ? [r.cost === null ? '–' : r.cost.toFixed(2)] : []),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  const fastest = rows.find((r) => r.fastestThatFits);
  const note = fastest ? `**Bold**: the fastest method that fits.` : 'No method fits this GPU as configured.';
  const estimated = time?.rowsEstimated
    ? ' The row count is estimated (a large file scanned in part, or no dataset yet).'
    : '';
  return `${lines.join('\n')}\n\n${note} Speed is the throughput model's (fitted on H200 measurements; see docs/memory.md).${estimated}`;
}
