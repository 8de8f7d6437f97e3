import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { axolotlToPlan } from '../../server/src/core/dialects/normalize/axolotl';
import { planToLoraLensYaml } from '../../server/src/core/dialects/normalize/convert';
import { llamaFactoryToPlan } from '../../server/src/core/dialects/normalize/llamaFactory';
import { doValidation } from '../../server/src/core/analysis/validation';
import { convertedPath } from '../../server/src/core/analysis/convertConfig';
import { toTrainingPlan } from '../../server/src/core/plan/normalize';
import { corpusFiles, isAxolotlTraining, llamaFactorySubKind } from './normalizeCorpus';

const noFiles = () => false;
const errorsOf = (text: string) => doValidation(parseConfigDocument(text)).filter((d) => d.severity === 1);

describe('convert: dialect plans as LoRA Lens configs', () => {
  it('every axolotl training config converts to a config our schema accepts without an error', () => {
    for (const file of corpusFiles('axolotl').filter(isAxolotlTraining)) {
      const { plan, lost } = axolotlToPlan(file.doc, file.path, { fileExists: noFiles });
      const text = planToLoraLensYaml(plan!, lost, 'axolotl');
      assert.deepEqual(
        errorsOf(text).map((d) => `${d.code}: ${d.message}`),
        [],
        file.name,
      );
    }
  });

  it('every LLaMA-Factory train config converts to a config our schema accepts without an error', () => {
    for (const file of corpusFiles('llama-factory').filter((f) => llamaFactorySubKind(f) === 'train')) {
      const { plan, lost } = llamaFactoryToPlan(file.doc, file.path, 'train', { fileExists: noFiles });
      const text = planToLoraLensYaml(plan!, lost, 'llama-factory');
      assert.deepEqual(
        errorsOf(text).map((d) => `${d.code}: ${d.message}`),
        [],
        file.name,
      );
    }
  });

  it("the header lists every key not carried over, the normaliser's and the conversion's own", () => {
    const text =
      'base_model: meta-llama/Llama-3.1-8B\nload_in_8bit: true\nadapter: lora\nlora_target_linear: true\n' +
      'datasets:\n  - path: tatsu-lab/alpaca\n    type: alpaca\nlearning_rate: 2e-4\nwandb_project: demo\ndeepspeed: deepspeed_configs/zero3.json\n' +
      'gradient_checkpointing: offload\noutput_dir: ./out\nbf16: auto\n';
    const { plan, lost } = axolotlToPlan(parseConfigDocument(text), '/w/axolotl.yml', { fileExists: noFiles });
    const converted = planToLoraLensYaml(plan!, lost, 'axolotl');
    const header = converted.split('\n').filter((l) => l.startsWith('#'));
    assert.match(header[0]!, /converted from axolotl\.yml \(axolotl\)/);
    for (const key of [
      'wandb_project',
      'deepspeed',
      'datasets[0].type',
      'model.load_in_8bit',
      'hardware.distributed',
    ]) {
      assert.ok(
        header.some((l) => l.startsWith(`#   - ${key}: `)),
        `${key} missing from\n${header.join('\n')}`,
      );
    }
    const body = parseConfigDocument(converted).value as Record<string, any>;
    assert.equal(body.model, 'meta-llama/Llama-3.1-8B');
    assert.equal(body.method, 'lora');
    assert.equal(body.precision, 'bf16-true');
    // The Hub dataset is kept as our dialect names it, and the header does not call it lost.
    assert.equal(body.data.train, 'hf://datasets/tatsu-lab/alpaca');
    assert.doesNotMatch(converted, /load_dataset|alpaca\.jsonl/);
    assert.equal(
      header.some((l) => l.startsWith('#   - data.train: ')),
      false,
    );
    assert.equal(body.output.dir, 'out');
    // axolotl's offloaded checkpoints are our `offload` (the bundled trainer runs it), not a lost key.
    assert.equal(body.training.gradient_checkpointing, 'offload');
    assert.equal('activation_offloading' in body.training, false);
    assert.equal(
      header.some((l) => l.startsWith('#   - training.activation_offloading: ')),
      false,
    );
    // axolotl's own defaults are carried where they differ from ours; ours (all-linear, bias none) are left out.
    assert.deepEqual(body.lora, { r: 8, lora_alpha: 8, lora_dropout: 0 });
    assert.equal(body.training.seed, undefined);
  });

  it('writes only what differs from our defaults, and the file reads back as the same plan', () => {
    const axolotl = corpusFiles('axolotl')
      .filter(isAxolotlTraining)
      .map((f) => ({ name: f.name, path: f.path, ...axolotlToPlan(f.doc, f.path, { fileExists: noFiles }) }));
    const llamaFactory = corpusFiles('llama-factory')
      .filter((f) => llamaFactorySubKind(f) === 'train')
      .map((f) => ({
        name: f.name,
        path: f.path,
        ...llamaFactoryToPlan(f.doc, f.path, 'train', { fileExists: noFiles }),
      }));
    let lines = 0;
    let files = 0;
    for (const [dialect, converted] of [
      ['axolotl', axolotl],
      ['llama-factory', llamaFactory],
    ] as const) {
      for (const { name, path, plan, lost } of converted) {
        const text = planToLoraLensYaml(plan!, lost, dialect);
        const back = toTrainingPlan(parseConfigDocument(text), convertedPath(path));
        assert.ok(back, `${name}: the converted file gives no plan\n${text}`);
        // Every field the tool's plan has reads back the same (our plan may carry more, e.g. auto checkpointing's).
        const same = (section: 'lora' | 'training' | 'output') => {
          const { activation_offloading: _a, ...want } = (plan![section] ?? {}) as Record<string, unknown>;
          if (section === 'lora' && !plan!.lora) return assert.equal(back.lora, null, name);
          const got = back[section] as unknown as Record<string, unknown>;
          const picked = Object.fromEntries(Object.keys(want).map((key) => [key, got[key] ?? null]));
          const wanted = Object.fromEntries(Object.entries(want).map(([key, value]) => [key, value ?? null]));
          assert.deepEqual(picked, wanted, `${name}: ${section}\n${text}`);
        };
        same('lora');
        same('training');
        same('output');
        assert.equal(back.method, plan!.method, name);
        // The tools' chat masking has no key in our dialect: the header lists it (conversionLosses), not the file.
        const { train: _t, eval: _e, chat_template: _c, roles_to_train: _r, train_on_eos: _o, ...data } = plan!.data;
        const { train: _bt, eval: _be, chat_template: _bc, ...backData } = back.data;
        assert.deepEqual(backData, data, `${name}: data\n${text}`);
        // Nothing absolute: every path is relative to the converted file, beside the original.
        assert.doesNotMatch(text, /(^|[\s:])\/(w|work|tmp|home|root)\//m, `${name}: an absolute path\n${text}`);
        lines += text.split('\n').filter((l) => l && !l.startsWith('#') && !/^\s+#/.test(l)).length;
        files++;
      }
    }
    // Reported, not asserted: the converted files' size (the old conversion wrote about 60 lines of defaults each).
    console.log(`convert: ${files} corpus configs, ${(lines / files).toFixed(1)} YAML lines each on average`);
  });

  it('a local dataset and a local model above the config stay relative to the converted file', () => {
    const text =
      'base_model: ../models/tiny\nadapter: lora\nlora_r: 16\nlora_alpha: 32\nlora_target_linear: true\n' +
      'datasets:\n  - path: ../data/train.jsonl\n    type: completion\noutput_dir: /w/out\n';
    const { plan, lost } = axolotlToPlan(parseConfigDocument(text), '/w/configs/axolotl.yml', {
      fileExists: () => true,
    });
    const converted = planToLoraLensYaml(plan!, lost, 'axolotl');
    const body = parseConfigDocument(converted).value as Record<string, any>;
    assert.equal(body.data.train, '../data/train.jsonl');
    assert.equal(body.output.dir, '../out');
    assert.equal(body.model, '../models/tiny');
    assert.doesNotMatch(converted, /\/w\//);
  });
});
