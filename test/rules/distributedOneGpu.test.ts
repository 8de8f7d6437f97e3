// distributed-one-gpu (issue 21): ddp or fsdp with one GPU, the same sentence `lora-lens run` refuses with, and a fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { oneProcessMessage } from '../../server/src/core/plan/oneProcess';
import { analyzeConfig } from '../../server/src/core/analysis/analyze';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { assertFires, assertFiresAndFixes, assertSilent, BASE } from './helpers';

const withHardware = (hardware: string) => `${BASE}hardware:\n${hardware}`;

test('fsdp or ddp with num_gpus 1 (or unset) warns at the strategy; the fix sets distributed: none', () => {
  for (const strategy of ['fsdp', 'ddp'] as const) {
    const text = withHardware(`  num_gpus: 1\n  distributed: ${strategy}\n`);
    const d = assertFires('distributed-one-gpu', text);
    assert.equal(d.severity, 2, 'a warning: one GPU on each of several machines is a real layout');
    assert.equal(
      d.message,
      `${oneProcessMessage(strategy)}. lora-lens run refuses it on one machine (one GPU on each of several machines, with --nnodes, is fine).`,
    );
    const fixed = assertFiresAndFixes('distributed-one-gpu', text);
    assert.match(fixed, /distributed: none/);
  }
  assertFires('distributed-one-gpu', withHardware('  distributed: fsdp\n'), {}, /num_gpus is 1/);
});

test('silent with several GPUs, with none, and on the tools (their launcher picks the GPU count)', () => {
  assertSilent('distributed-one-gpu', withHardware('  num_gpus: 2\n  distributed: fsdp\n'));
  assertSilent('distributed-one-gpu', withHardware('  num_gpus: 1\n  distributed: none\n'));
  assertSilent('distributed-one-gpu', BASE);
  const axolotl =
    'base_model: Qwen/Qwen2.5-0.5B\nadapter: lora\nlora_r: 8\nlora_alpha: 16\nlora_target_linear: true\ndatasets:\n  - path: tatsu-lab/alpaca\n    type: alpaca\n' +
    'sequence_len: 512\nmicro_batch_size: 1\nnum_epochs: 1\nlearning_rate: 0.0002\noutput_dir: ./out\nfsdp_version: 2\nfsdp_config:\n  offload_params: false\n';
  const a = analyzeConfig({ doc: parseConfigDocument(axolotl), configPath: '/projects/x/a.yml' });
  assert.equal(a.plan?.hardware.distributed, 'fsdp');
  assert.equal(a.plan?.hardware.num_gpus, 1);
  assert.equal(
    a.diagnostics.some((d) => d.code === 'distributed-one-gpu'),
    false,
  );
});
