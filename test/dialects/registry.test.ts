import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeConfig, type AnalysisEnvironment } from '../../server/src/core/analysis/analyze';
import {
  DIALECTS,
  DIALECT_IDS,
  detectDialect,
  dialectDisplayName,
  isToolDialectId,
  toolDialectOf,
} from '../../server/src/core/dialects';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { TOY } from './toy/dialect';

const TOY_CONFIG = 'toy_model: Qwen/Qwen2.5-0.5B\ntoy_lr: 0.05\ntoy_steps: 100\ntoy_colour: red\n';
const environment = (registry = [...DIALECTS, TOY]): AnalysisEnvironment => ({
  platform: 'linux',
  env: {},
  fallbackGpu: null,
  registry,
});

test('registry: every dialect id, display name and tool comes from the one list', () => {
  assert.deepEqual(DIALECT_IDS, ['lora-lens', 'axolotl', 'llama-factory', 'trl']);
  assert.deepEqual(DIALECT_IDS.map(dialectDisplayName), ['LoRA Lens', 'axolotl', 'LLaMA-Factory', 'TRL']);
  assert.deepEqual(DIALECT_IDS.filter(isToolDialectId), ['axolotl', 'llama-factory', 'trl']);
  assert.equal(toolDialectOf('llama-factory').tool.executable, 'llamafactory-cli');
  assert.deepEqual(toolDialectOf('axolotl').tool.trainCommand('/w/a.yml', 2).args, [
    'train',
    '/w/a.yml',
    '--launcher',
    'torchrun',
    '--',
    '--nproc_per_node=2',
  ]);
  assert.deepEqual(toolDialectOf('llama-factory').tool.trainCommand('/w/b.yaml', 2).env, {
    FORCE_TORCHRUN: '1',
    NPROC_PER_NODE: '2',
  });
});

test('registry: a dialect added to the list is recognised by its keys and by a modeline, and only then', () => {
  const registry = [...DIALECTS, TOY];
  assert.equal(detectDialect(TOY_CONFIG, '/w/toy.yaml', undefined, registry).dialect as string, 'toy');
  assert.equal(
    detectDialect(`# lora-lens: dialect=toy\ntoy_model: x\n`, '/w/toy.yaml', undefined, registry).dialect as string,
    'toy',
  );
  assert.equal(detectDialect(TOY_CONFIG, '/w/toy.yaml').dialect, null);
  assert.match(
    detectDialect(`# lora-lens: dialect=toy\n`, '/w/toy.yaml').notChecked ?? '',
    /knows `lora-lens`, `axolotl`, `llama-factory`, `trl`/,
  );
});

test('registry: a test-only dialect runs through the one analysis pipeline: its validation, its plan, the rules in its keys, the estimate', () => {
  const analysis = analyzeConfig({
    doc: parseConfigDocument(TOY_CONFIG),
    configPath: '/w/toy.yaml',
    environment: environment(),
  });
  assert.equal(analysis.dialect.dialect as string, 'toy');
  const unknown = analysis.diagnostics.find((d) => d.code === 'toy-unknown-key');
  assert.equal(unknown?.range.start.line, 3);
  assert.equal(analysis.plan?.training.max_steps, 100);
  const lr = analysis.diagnostics.find((d) => d.code === 'lr-range');
  assert.ok(lr, 'the learning-rate rule ran on the toy plan');
  assert.equal(lr.range.start.line, 1, 'placed on toy_lr');
  assert.match(String(lr.message), /^toy_lr 0\.05 is above/);
  assert.equal((lr.data as { toolAccepts?: string }).toolAccepts, 'Toy Trainer');
  assert.ok(analysis.estimate, 'the memory estimate was made on the plan');
});
