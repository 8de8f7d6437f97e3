// "What would fit" offers FSDP's CPU offload on one GPU (issue 21) where a full fine-tune or a LoRA does not fit the
// GPU but would with the parameters, gradients and optimizer states in pinned host RAM: with the RAM it pins and the
// step time of the throughput estimate, only where the host's RAM suffices when it is known. Our dialect gets a
// quick fix (applied to the text, the config fits and distributed-one-gpu stays silent); axolotl's and
// LLaMA-Factory's titles name their own keys and carry no fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeConfig } from '../../server/src/core/analysis/analyze';
import { estimateReportOf } from '../../server/src/core/analysis/estimateReport';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { toTextEdits, type QuickFix } from '../../server/src/core/edits/configEdits';
import { estimateMemory } from '../../server/src/core/estimate/memory/estimate';
import { oneGpuOffloadSuggestion } from '../../server/src/core/estimate/memory/offloadSuggestion';
import { estimateOffloadRam } from '../../server/src/core/estimate/memory/offloadRam';
import { formatGiB, noFitDiagnostic, noFitFixes } from '../../server/src/core/estimate/memory/presentation';
import { makeItFit, whatWouldFit } from '../../server/src/core/estimate/memory/suggest';
import { estimateThroughput } from '../../server/src/core/estimate/throughput/estimate';
import { gpuFromSetting } from '../../server/src/core/gpu/catalog';
import type { GpuSpec } from '../../server/src/core/gpu/types';
import { catalogModel } from '../../server/src/core/models/catalog';
import type { TrainingPlan } from '../../server/src/core/plan/types';
import { applyTextEdits } from '../helpers/edits';

const gpu = (s: string): GpuSpec => {
  const r = gpuFromSetting(s);
  if (!r.ok) throw new Error(r.message);
  return r.gpu;
};
const h100 = gpu('H100-80GB');
const GiB = 2 ** 30;

const OURS = [
  'model: Qwen/Qwen2.5-7B',
  'method: full',
  'precision: bf16-mixed',
  'data: {train: train.jsonl, format: chat, max_length: 1024}',
  'training: {per_device_train_batch_size: 4, gradient_accumulation_steps: 4, gradient_checkpointing: true, learning_rate: 0.00001, max_steps: 10}',
  'hardware:',
  '  gpu: H100-80GB',
  '',
].join('\n');

const analyze = (text: string, path = '/nowhere/a.finetune.yaml') =>
  analyzeConfig({ doc: parseConfigDocument(text), configPath: path });
const planOf = (text: string): TrainingPlan => analyze(text).plan!;
const spec7 = catalogModel('Qwen/Qwen2.5-7B')!;

test('ours: offered with the peak, the pinned RAM and the step time of the offloaded plan, and a fix that fits', () => {
  const plan = planOf(OURS);
  assert.equal(estimateMemory(spec7, plan, h100).fits, false, '120 GiB: full fine-tuning of 7B does not fit');
  const offload = whatWouldFit(spec7, plan, h100).find((s) => s.kind === 'cpu_offload')!;
  assert.ok(offload, 'offered');
  const offloaded: TrainingPlan = {
    ...plan,
    hardware: { ...plan.hardware, num_gpus: 1, distributed: 'fsdp', fsdp: { offload_params: true } },
  };
  const e = estimateMemory(spec7, offloaded, h100);
  assert.equal(offload.peakBytes, e.peakBytes);
  assert.equal(offload.fits, true);
  // 16 B a parameter for full fine-tuning under bf16-mixed: fp32 master, gradient, and two AdamW states.
  const pinned = estimateOffloadRam(spec7, offloaded)!.bytes;
  assert.equal(pinned, 7_615_616_512 * 16);
  const step = estimateThroughput(spec7, offloaded, h100)!.stepSeconds;
  const plain = estimateThroughput(spec7, plan, h100)!.stepSeconds;
  assert.ok(step > plain, 'slower: the copies and the CPU step');
  assert.equal(
    offload.title,
    `FSDP CPU offload on this one GPU (hardware.distributed: fsdp, hardware.fsdp.offload_params: true): ≈ ${formatGiB(e.peakBytes)}, fits; ` +
      `pins ≈ ${formatGiB(pinned)} of host RAM (the host is not known here: check it has that free), ` +
      `≈ ${step.toFixed(2)} s per step against ${plain.toFixed(2)} s without offload (host-link copies and the CPU optimizer step)`,
  );
  // Make it fit keeps to tunings: the offload is a layout of its own, offered beside it.
  assert.ok(!makeItFit(spec7, plan, h100)!.kinds.includes('cpu_offload'));

  const analysis = analyze(OURS);
  const d = analysis.diagnostics.find((x) => x.code === 'memory-no-fit')!;
  const fix = (d.data as { fixes: QuickFix[] }).fixes.find((f) => /FSDP CPU offload/.test(f.title))!;
  assert.ok(fix, 'a quick fix');
  const fixed = applyTextEdits(OURS, toTextEdits(parseConfigDocument(OURS), fix.edits));
  assert.match(fixed, /distributed: fsdp/);
  assert.match(fixed, /offload_params: true/);
  const again = analyze(fixed);
  assert.equal(again.estimate?.fits, true, fixed);
  assert.equal(again.estimate?.peakBytes, e.peakBytes);
  for (const code of ['memory-no-fit', 'distributed-one-gpu'])
    assert.equal(
      again.diagnostics.some((x) => x.code === code),
      false,
      code,
    );
});

test('the host RAM, where known, must hold the pinned state and the trainer process', () => {
  const plan = planOf(OURS);
  const pinned = 7_615_616_512 * 16;
  const at = (availableBytes: number) =>
    oneGpuOffloadSuggestion(spec7, plan, h100, { hostRam: { availableBytes, source: 'MemAvailable' } }, {});
  assert.equal(at(pinned), null, 'no room for the process itself');
  assert.equal(at(pinned + 3 * GiB - 1), null);
  assert.match(at(256 * GiB)!.title, /pins ≈ 113\.5 GiB of host RAM, within the host's 256\.0 GiB/);
});

test("the CLI's measured host RAM (EstimateOptions.hostRam) counts less auto's 10% margin", () => {
  const plan = planOf(OURS);
  const need = 7_615_616_512 * 16 + 3 * GiB;
  const at = (availableBytes: number) =>
    oneGpuOffloadSuggestion(spec7, plan, h100, { hostRam: { availableBytes, source: 'MemAvailable' } }, {});
  assert.equal(at(need), null, 'the margin leaves too little');
  assert.equal(at(Math.floor(need / 0.9) - 1), null);
  assert.ok(at(Math.ceil(need / 0.9) + 1), 'fits with the margin');
});

test('not offered: several GPUs, QLoRA, an offload already, TRL, or a layout that still does not fit', () => {
  const plan = planOf(OURS);
  const none = (p: TrainingPlan, g: GpuSpec = h100, dialect?: string) =>
    assert.equal(oneGpuOffloadSuggestion(spec7, p, g, {}, { dialect }), null);
  none({ ...plan, hardware: { ...plan.hardware, num_gpus: 2, distributed: 'fsdp' } });
  none({ ...planOf(OURS.replace('method: full', 'method: qlora')) });
  none({ ...plan, hardware: { ...plan.hardware, distributed: 'fsdp', fsdp: { offload_params: true } } });
  none({ ...plan, engine: 'hf' }, h100, 'trl');
  none(plan, gpu('8GiB'));
  assert.ok(oneGpuOffloadSuggestion(spec7, plan, h100, {}, {}), 'ours, read from the engine');
});

test('only the offload fits: the no-fit message says it, with its cost, instead of "nothing makes it fit"', () => {
  // Llama-3.1-70B LoRA on an RTX 4090: QLoRA still needs ≈ 43 GiB.
  const text = [
    'model: meta-llama/Llama-3.1-70B',
    'method: lora',
    'precision: bf16-true',
    'lora: {r: 16, lora_alpha: 32, target_modules: all-linear}',
    'data: {train: train.jsonl, format: chat, max_length: 1024}',
    'training: {per_device_train_batch_size: 1, gradient_accumulation_steps: 8, gradient_checkpointing: true, learning_rate: 0.0002, max_steps: 10}',
    'hardware: {gpu: RTX 4090}',
    '',
  ].join('\n');
  const plan = planOf(text);
  const spec = catalogModel('meta-llama/Llama-3.1-70B')!;
  const rtx = gpu('RTX 4090');
  const suggestions = whatWouldFit(spec, plan, rtx);
  assert.equal(makeItFit(spec, plan, rtx), null);
  assert.deepEqual(
    suggestions.filter((s) => s.fits).map((s) => s.kind),
    ['cpu_offload'],
  );
  const d = noFitDiagnostic(estimateMemory(spec, plan, rtx), plan, suggestions, null)!;
  assert.match(
    d.message,
    /It fits RTX 4090 with FSDP CPU offload on this one GPU .*pins ≈ [\d.]+ GiB of host RAM.* \(quick fix\)\.$/,
  );
  assert.doesNotMatch(d.message, /Nothing in this config/);
  assert.deepEqual(
    noFitFixes(suggestions, null).map((f) => f.isPreferred),
    [false],
  );
});

const AXOLOTL = [
  '# lora-lens: gpu=H100-80GB',
  'base_model: Qwen/Qwen2.5-14B',
  'datasets:',
  '  - path: train.jsonl',
  '    type: chat_template',
  'sequence_len: 1024',
  'micro_batch_size: 4',
  'gradient_accumulation_steps: 4',
  'gradient_checkpointing: true',
  'num_epochs: 1',
  'learning_rate: 0.00001',
  'bf16: true',
  'output_dir: ./out',
  '',
].join('\n');
const LLAMA_FACTORY = [
  '# lora-lens: gpu=H100-80GB',
  'model_name_or_path: Qwen/Qwen2.5-7B',
  'stage: sft',
  'do_train: true',
  'finetuning_type: full',
  'dataset: alpaca_en_demo',
  'template: qwen',
  'cutoff_len: 1024',
  'per_device_train_batch_size: 4',
  'gradient_accumulation_steps: 4',
  'learning_rate: 1.0e-5',
  'num_train_epochs: 1',
  'bf16: true',
  'output_dir: saves/x',
  '',
].join('\n');

test("the tools: the suggestion names their keys (axolotl's fsdp_config, LLaMA-Factory's DeepSpeed JSON), no fix", () => {
  const cases = [
    {
      text: AXOLOTL,
      path: '/nowhere/axolotl.yml',
      title:
        /^FSDP CPU offload on one GPU \(axolotl: fsdp_version: 2 with fsdp_config\.offload_params: true, beside fsdp_config's wrapping keys\): ≈ [\d.]+ GiB, fits; pins ≈ [\d.]+ GiB of host RAM/,
    },
    {
      text: LLAMA_FACTORY,
      path: '/nowhere/llama_factory.yaml',
      title:
        /^DeepSpeed ZeRO-3 CPU offload on one GPU \(LLaMA-Factory has no key for it: point `deepspeed:` at a ZeRO-3 JSON with offload_optimizer and offload_param on cpu, as its examples\/deepspeed\/ds_z3_offload_config\.json\): ≈ [\d.]+ GiB, fits/,
    },
  ];
  for (const c of cases) {
    const analysis = analyze(c.text, c.path);
    assert.equal(analysis.estimate?.fits, false, c.path);
    const report = estimateReportOf(analysis)!;
    const offload = report.fit.suggestions.find((s) => s.kind === 'cpu_offload');
    assert.ok(offload, c.path);
    assert.match(offload.title, c.title);
    assert.match(offload.title, /s per step against [\d.]+ s without offload/);
    assert.deepEqual(offload.edits, []);
    const d = analysis.diagnostics.find((x) => x.code === 'memory-no-fit')!;
    const fixes = (d.data as { fixes: QuickFix[] }).fixes;
    assert.ok(
      fixes.every((f) => !/offload/i.test(f.title) && f.edits.length > 0),
      fixes.map((f) => f.title).join('\n'),
    );
  }
});
