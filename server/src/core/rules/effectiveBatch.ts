import type { Rule } from './types';
import { anchor, fix, has, set } from './util';

const LOW = 32;
const HIGH = 128;

export const effectiveBatch: Rule = {
  id: 'effective-batch',
  severity: 'warning',
  summary: 'Effective batch (per-device batch × accumulation × GPUs) outside 32-128.',
  check({ doc, plan }) {
    const perDevice = plan.training.per_device_train_batch_size;
    const accumulation = plan.training.gradient_accumulation_steps;
    const gpus = plan.hardware.num_gpus;
    const effective = perDevice * accumulation * gpus;
    if (effective >= LOW && effective <= HIGH) return [];
    const product = `${perDevice} × ${accumulation}${gpus > 1 ? ` × ${gpus} GPUs` : ''} = ${effective}`;
    const range = has(doc, ['training', 'gradient_accumulation_steps'])
      ? anchor(doc, ['training', 'gradient_accumulation_steps'])
      : anchor(doc, ['training', 'per_device_train_batch_size']);
    const perStep = perDevice * gpus;
    const fixFor = (target: number, preferred: boolean) => {
      const steps = Math.max(1, Math.round(target / perStep));
      return fix(`Set gradient_accumulation_steps: ${steps} (effective batch ${steps * perStep})`, [set(['training', 'gradient_accumulation_steps'], steps)], preferred);
    };
    if (effective < LOW) {
      const to32 = Math.ceil(LOW / perStep);
      return [{
        range,
        message: `Effective batch ${product} (per-device batch × gradient accumulation${gpus > 1 ? ' × GPUs' : ''}) is below ${LOW}: each step's gradient is noisy and the loss jumps from step to step. Raise gradient_accumulation_steps to ${to32} (effective ${to32 * perStep}); memory does not grow.`,
        fixes: [fixFor(to32 * perStep, true), ...(64 / perStep >= 1 && Math.round(64 / perStep) !== to32 ? [fixFor(64, false)] : [])],
        data: { effective, perDevice, accumulation, gpus },
      }];
    }
    const steps = Math.floor(HIGH / perStep);
    const fixes = steps >= 1
      ? [fix(`Set gradient_accumulation_steps: ${steps} (effective batch ${steps * perStep})`, [set(['training', 'gradient_accumulation_steps'], steps)], true)]
      : [fix(`Set per_device_train_batch_size: ${Math.max(1, Math.floor(64 / gpus))} and gradient_accumulation_steps: 1`, [set(['training', 'per_device_train_batch_size'], Math.max(1, Math.floor(64 / gpus))), set(['training', 'gradient_accumulation_steps'], 1)], true)];
    return [{
      range,
      message: `Effective batch ${product} is above ${HIGH}: few optimizer steps per epoch, and each sample moves the weights less, so fine-tuning learns less from the same data. Aim for 32-128.`,
      fixes,
      data: { effective, perDevice, accumulation, gpus },
    }];
  },
};
