import { knownGpu, type Finding, type Rule } from './types';
import { anchor, leaf, setFix } from './util';

const COMPUTE_DTYPE = leaf('quantization.bnb_4bit_compute_dtype');

export const qloraSetup: Rule = {
  id: 'qlora-setup',
  severity: 'warning',
  summary: 'QLoRA without k-bit preparation or double quantization, or a compute dtype that does not suit the GPU.',
  check({ doc, plan, gpu: given }) {
    const gpu = knownGpu(given);
    const q = plan.quantization;
    if (plan.method !== 'qlora' || !q) return [];
    const findings: Finding[] = [];
    const at = (key: string) => anchor(doc, ['quantization', key]);
    if (!q.prepare_for_kbit_training) {
      findings.push({
        range: at('prepare_for_kbit_training'),
        message: `QLoRA without ${leaf('quantization.prepare_for_kbit_training')}: PEFT's preparation casts the norms to fp32 and enables input gradients; without it, gradient checkpointing leaves the adapters without gradients or training is unstable. Set it to true.`,
        fixes: [setFix(['quantization', 'prepare_for_kbit_training'], true)],
      });
    }
    if (!q.bnb_4bit_use_double_quant) {
      findings.push({
        range: at('bnb_4bit_use_double_quant'),
        severity: 'info',
        message: `Double quantization is off: it also quantizes the quantization constants, saving about 0.4 bit per parameter (some 3 GB on a 70B model) at no measurable quality cost. Set ${leaf('quantization.bnb_4bit_use_double_quant')}: true.`,
        fixes: [setFix(['quantization', 'bnb_4bit_use_double_quant'], true)],
      });
    }
    if (q.bnb_4bit_quant_type === 'fp4') {
      findings.push({
        range: at('bnb_4bit_quant_type'),
        severity: 'info',
        message: `${leaf('quantization.bnb_4bit_quant_type')} fp4: NF4 places its 16 levels where normally distributed weights are dense and loses less quality (QLoRA paper). Use nf4.`,
        fixes: [setFix(['quantization', 'bnb_4bit_quant_type'], 'nf4')],
      });
    }
    if (gpu && q.bnb_4bit_compute_dtype === 'bfloat16' && !gpu.bf16) {
      findings.push({
        range: at('bnb_4bit_compute_dtype'),
        severity: 'error',
        message: `${COMPUTE_DTYPE} bfloat16 on ${gpu.name}, which has no native bfloat16: the 4-bit matmuls fail or crawl in emulation. Use float16.`,
        fixes: [setFix(['quantization', 'bnb_4bit_compute_dtype'], 'float16')],
      });
    } else if (gpu?.bf16 && q.bnb_4bit_compute_dtype === 'float16') {
      findings.push({
        range: at('bnb_4bit_compute_dtype'),
        message: `${COMPUTE_DTYPE} float16 on ${gpu.name}, which supports bfloat16: fp16 overflows on large activations (the loss turns NaN), while bfloat16 has fp32's range at the same speed. Use bfloat16.`,
        fixes: [setFix(['quantization', 'bnb_4bit_compute_dtype'], 'bfloat16')],
      });
    }
    return findings;
  },
};
