// distributed-one-gpu (issue 21): ddp, or fsdp without CPU offload, with one GPU: the same sentence `lora-lens run`
// refuses with, and a fix. FSDP with offload_params on one GPU is a layout of its own and is not reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { oneProcessMessage } from '../../server/src/core/plan/oneProcess';
import { analyzeConfig } from '../../server/src/core/analysis/analyze';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { toTextEdits, type QuickFix } from '../../server/src/core/edits/configEdits';
import { applyTextEdits } from '../helpers/edits';
import { assertFires, assertFiresAndFixes, assertSilent, BASE } from './helpers';

const withHardware = (hardware: string) => `${BASE}hardware:\n${hardware}`;

test('fsdp or ddp with num_gpus 1 (or unset) warns at the strategy; the fix sets distributed: none', () => {
  for (const strategy of ['fsdp', 'ddp'] as const) {
    const text = withHardware(`  num_gpus: 1\n  distributed: ${strategy}\n`);
    const d = assertFires('distributed-one-gpu', text);
    assert.equal(d.severity, 2, 'a warning: one GPU on each of several machines is a real layout');
    assert.equal(
      String(d.message),
      `${oneProcessMessage(strategy)}. lora-lens run refuses it on one machine (one GPU on each of several machines, with --nnodes, is fine).`,
    );
    const fixed = assertFiresAndFixes('distributed-one-gpu', text);
    assert.match(fixed, /distributed: none/);
  }
  assertFires('distributed-one-gpu', withHardware('  distributed: fsdp\n'), {}, /num_gpus is 1/);
});

test('fsdp on one GPU: the message offers CPU offload, whose fix silences the rule; ddp is not offered it', () => {
  const text = withHardware('  num_gpus: 1\n  distributed: fsdp\n');
  const d = assertFires('distributed-one-gpu', text, {}, /without hardware\.fsdp\.offload_params/);
  assert.match(
    String(d.message),
    /hardware\.fsdp\.offload_params: true to keep the parameters, gradients and optimizer states/,
  );
  const fixes = (d.data as { fixes: QuickFix[] }).fixes;
  assert.deepEqual(
    fixes.map((f) => [f.title, f.isPreferred === true]),
    [
      ['Set distributed: none', true],
      ['Set offload_params: true', false],
    ],
  );
  const offloaded = applyTextEdits(text, toTextEdits(parseConfigDocument(text), fixes[1]!.edits));
  assert.match(offloaded, /fsdp:\n\s+offload_params: true/);
  assertSilent('distributed-one-gpu', offloaded);
  const ddp = assertFires('distributed-one-gpu', withHardware('  num_gpus: 1\n  distributed: ddp\n'));
  assert.equal((ddp.data as { fixes: QuickFix[] }).fixes.length, 1);
  assert.doesNotMatch(String(ddp.message), /offload/);
});

test('silent for fsdp with offload_params on one GPU; fires again when offload_params is false', () => {
  assertSilent(
    'distributed-one-gpu',
    withHardware('  num_gpus: 1\n  distributed: fsdp\n  fsdp:\n    offload_params: true\n'),
  );
  assertSilent('distributed-one-gpu', withHardware('  distributed: fsdp\n  fsdp:\n    offload_params: true\n'));
  assertFires(
    'distributed-one-gpu',
    withHardware('  num_gpus: 1\n  distributed: fsdp\n  fsdp:\n    offload_params: false\n'),
  );
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
