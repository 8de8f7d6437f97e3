import { knownGpu, type Rule } from './types';
import { anchor, setFix } from './util';

export const precisionGpu: Rule = {
  id: 'precision-gpu',
  severity: 'error',
  summary: 'bf16 precision on a GPU without native bfloat16 (T4, V100, pre-Ampere), or fp16 where bf16 is available.',
  check({ doc, plan, gpu: given }) {
    const gpu = knownGpu(given);
    if (!gpu) return [];
    const precision = plan.precision;
    if (precision.startsWith('bf16') && !gpu.bf16) {
      return [
        {
          range: anchor(doc, ['precision']),
          message: `precision ${precision} needs native bfloat16, which ${gpu.name} lacks (it arrived with Ampere): PyTorch refuses ("bf16 ... requires Ampere or newer") or emulates it very slowly. Use fp16-mixed.`,
          fixes: [setFix(['precision'], 'fp16-mixed')],
          data: { gpu: gpu.name },
        },
      ];
    }
    if (precision === 'fp16-mixed' && gpu.bf16) {
      return [
        {
          range: anchor(doc, ['precision']),
          severity: 'info',
          message: `precision fp16-mixed on ${gpu.name}, which supports bfloat16: fp16 needs loss scaling and still overflows on large activations; bf16 has fp32's range at the same speed. Use bf16-mixed.`,
          fixes: [setFix(['precision'], 'bf16-mixed')],
          data: { gpu: gpu.name },
        },
      ];
    }
    return [];
  },
};
