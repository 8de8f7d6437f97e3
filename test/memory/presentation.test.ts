import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { catalogModel } from '../../server/src/core/models/catalog';
import { measurementPlan, type Measurement } from '../../server/src/core/estimate/memory/calibration';
import { estimateMemory } from '../../server/src/core/estimate/memory/estimate';
import {
  formatRange,
  hoverMarkdown,
  INLAY_MAX_LENGTH,
  inlayLabel,
  noFitDiagnostic,
} from '../../server/src/core/estimate/memory/presentation';
import { recommendMethod } from '../../server/src/core/estimate/memory/recommend';
import { makeItFit, whatWouldFit } from '../../server/src/core/estimate/memory/suggest';
import { gpuFromSetting, gpuNames } from '../../server/src/core/gpu/catalog';
import type { GpuSpec } from '../../server/src/core/gpu/types';
import { analyzeConfig } from '../../server/src/core/analysis/analyze';
import { estimateMarkdown, getMemoryInlayHints } from '../../server/src/lsp/memoryFeatures';

const ROOT = join(__dirname, '..', '..');
const gpu = (s: string): GpuSpec => {
  const r = gpuFromSetting(s);
  if (!r.ok) throw new Error(r.message);
  return r.gpu;
};
const row = (o: Partial<Measurement>): Measurement => ({
  arch: 'llama-3.1-8b',
  method: 'lora',
  targets: 'all-linear',
  r: 16,
  seq: 2048,
  bs: 4,
  gc: false,
  total_params: 0,
  trainable: 0,
  peak_alloc_gib: 0,
  peak_reserved_gib: 0,
  ...o,
});
const spec = catalogModel('meta-llama/Llama-3.1-8B')!;
const examples = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.finetune.yaml'));

test("inlay label within VS Code's 43 characters on every example × every catalog GPU, fit and no fit, the key figure kept", () => {
  // Detected names are longer than catalog names; sizes make "24GiB GPU".
  const gpus: GpuSpec[] = [
    ...gpuNames().map(gpu),
    gpu('24GiB'),
    gpu('6GiB'),
    gpu('141GiB'),
    { name: 'NVIDIA GeForce RTX 4090 Laptop GPU', memoryBytes: 16 * 2 ** 30, bf16: true, computeCapability: '8.9' },
  ];
  let fits = 0;
  let over = 0;
  for (const name of examples) {
    const path = join(ROOT, 'examples', name);
    const text = readFileSync(path, 'utf8');
    for (const variant of [
      text,
      text
        .replace(/gradient_checkpointing: true/, 'gradient_checkpointing: false')
        .replace(/per_device_train_batch_size: \d+/, 'per_device_train_batch_size: 32'),
    ]) {
      const a = analyzeConfig({ doc: parseConfigDocument(variant), configPath: path });
      const model = a.model?.ok ? a.model.spec : assert.fail(name);
      for (const g of [...gpus, null]) {
        const est = estimateMemory(model, a.plan!, g, a.estimateOptions);
        const label = inlayLabel(est);
        assert.ok(label.length <= INLAY_MAX_LENGTH, `${name} on ${g?.name}: ${label.length} characters: ${label}`);
        assert.match(label, /^≈ \d+\.\d GiB/);
        if (est.fits === true) {
          fits++;
          assert.match(label, / · fits( .+)?( · \d+\.\d GiB free)?$/, label);
        } else if (est.fits === false) {
          over++;
          assert.match(label, / · (does not fit: )?\d+\.\d GiB over/, label);
        } else assert.match(label, /no GPU/);
      }
    }
  }
  assert.ok(fits > 20 && over > 20, `both verdicts covered (${fits} fit, ${over} over)`);
  // The GPU name stays when there is room; a long detected name is dropped before the figure.
  assert.equal(
    inlayLabel(estimateMemory(spec, measurementPlan(row({ bs: 1, gc: true })), gpu('H100-80GB'))).replace(
      /[\d.]+/g,
      'N',
    ),
    '≈ N GiB · fits HN NGB · N GiB free',
  );
  assert.match(
    inlayLabel(estimateMemory(spec, measurementPlan(row({})), gpu('RTX 3060'))),
    /^≈ \d+\.\d GiB · \d+\.\d GiB over RTX 3060$/,
  );
});

test('inlay hint: padding, the hover as its tooltip', () => {
  const path = join(ROOT, 'examples', 'qwen2.5-7b-qlora.finetune.yaml');
  const doc = parseConfigDocument(readFileSync(path, 'utf8'));
  const [hint] = getMemoryInlayHints(doc, analyzeConfig({ doc, configPath: path }));
  assert.equal(hint!.paddingLeft, true);
  assert.equal(hint!.position.line, 2); // the model line
  const tooltip = hint!.tooltip as { kind: string; value: string };
  assert.equal(tooltip.kind, 'markdown');
  assert.match(tooltip.value, /^\*\*Fits RTX 4090 \(24\.0 GiB\)\*\*: ≈ \d+\.\d GiB peak, \d+\.\d GiB free\./);
});

test('hover: verdict first, real breaks, plain words, ranges only when they are ranges', () => {
  const plan = measurementPlan(row({}));
  const g = gpu('A100-40GB');
  const est = estimateMemory(spec, plan, g);
  const md = hoverMarkdown(est, {
    suggestions: whatWouldFit(spec, plan, g),
    fix: makeItFit(spec, plan, g),
    recommendation: recommendMethod(spec, plan, g),
  });
  const blocks = md.split('\n\n');
  assert.match(blocks[0]!, /^\*\*(Fits|Does not fit) A100 40GB \(40\.0 GiB\)\*\*/);
  assert.match(md, /\| Memory at the peak \| GiB \|/);
  assert.match(md, /CUDA context/);
  for (const jargon of [/at the peak \(/, /engine/, /lora-lens/, /rule of thumb/]) assert.doesNotMatch(md, jargon);
  // Every line that is not a table row or list item is its own paragraph (Markdown joins single newlines).
  const lines = md.split('\n');
  lines.forEach((line, i) => {
    if (!line || /^\|/.test(line) || /^- /.test(line)) return;
    const next = lines[i + 1];
    assert.ok(next === undefined || next === '' || /^[|-]/.test(next), `line runs into the next: ${line} / ${next}`);
  });
  assert.equal(formatRange(129.9 * 2 ** 30, 129.94 * 2 ** 30), '129.9 GiB');
  assert.equal(formatRange(11.2 * 2 ** 30, 16 * 2 ** 30), '11.2 – 16.0 GiB');
  assert.doesNotMatch(md, /(\d+\.\d) GiB – \1 GiB/);
});

test('hover of a QLoRA config that fits gives no LoRA advice; nvidia-smi range capped at the card', () => {
  const path = join(ROOT, 'examples', 'qwen2.5-7b-qlora.finetune.yaml');
  for (const g of ['A100-80GB', 'RTX 4090', 'RTX 3060']) {
    const text = readFileSync(path, 'utf8').replace(/gpu: .*/, `gpu: ${g}`);
    const a = analyzeConfig({ doc: parseConfigDocument(text), configPath: path });
    assert.equal(a.estimate!.fits, true, g);
    const md = estimateMarkdown(a)!;
    assert.doesNotMatch(md, /(?<!Q)LoRA[,;]|Recommended: LoRA|Recommended: full/, g);
    assert.match(md, /Recommended: QLoRA, as configured/, g);
    const smi = /nvidia-smi may show ([\d.]+) – ([\d.]+) GiB/.exec(md);
    if (smi) assert.ok(Number(smi[2]) <= a.estimate!.gpu!.memoryBytes / 2 ** 30 + 0.05, `${g}: ${smi[0]}`);
  }
});

test('memory-no-fit: Make it fit first and preferred, then each single change with its estimate; message names the way out', () => {
  const plan = measurementPlan(row({}));
  const g = gpu('RTX 4090');
  const est = estimateMemory(spec, plan, g);
  const d = noFitDiagnostic(est, plan, whatWouldFit(spec, plan, g), makeItFit(spec, plan, g))!;
  assert.equal(d.code, 'memory-no-fit');
  assert.match(d.message, /Make it fit \(quick fix\) finds a change that fits/);
  const [first, ...rest] = d.data.fixes;
  assert.match(first!.title, /^Make it fit: .*\(≈ \d+\.\d GiB, fits RTX 4090\)( — changes the training)?$/);
  assert.equal(first!.isPreferred, true);
  // Issue 27: only changes that fit are offered (one still over fixes nothing); training changes are labelled.
  for (const f of rest) {
    assert.match(f.title, /: ≈ \d+\.\d GiB, fits( — changes the training)?$/);
    assert.equal(f.isPreferred, false);
  }
  const checkpointing = whatWouldFit(spec, plan, g).find((s) => s.kind === 'gradient_checkpointing')!;
  assert.equal(
    rest.some((f) => /^Gradient checkpointing/.test(f.title)),
    checkpointing.fits === true,
    'offered exactly when it fits on its own',
  );
  assert.deepEqual(checkpointing.edits, [{ kind: 'set', path: ['training', 'gradient_checkpointing'], value: true }]);
  assert.equal(noFitDiagnostic(estimateMemory(spec, plan, gpu('H200')), plan), null);
});
