import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { axolotlToPlan } from '../../server/src/core/dialects/normalize/axolotl';
import { planToLoraLensYaml } from '../../server/src/core/dialects/normalize/convert';
import { llamaFactoryToPlan } from '../../server/src/core/dialects/normalize/llamaFactory';
import { doValidation } from '../../server/src/core/analysis/validation';
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
    assert.match(header[0]!, /converted from \/w\/axolotl\.yml \(axolotl\)/);
    for (const key of [
      'wandb_project',
      'deepspeed',
      'datasets[0].type',
      'model.load_in_8bit',
      'training.activation_offloading',
      'hardware.distributed',
      'data.train',
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
    assert.equal(body.data.train, 'hf://datasets/tatsu-lab/alpaca');
    assert.equal(body.output.dir, 'out');
    assert.equal(body.training.gradient_checkpointing, true);
    assert.equal('activation_offloading' in body.training, false);
    assert.equal(body.lora.target_modules, 'all-linear');
  });
});
