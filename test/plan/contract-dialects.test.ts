// The plan contract for the other dialects: every axolotl and LLaMA-Factory training config of the corpus
// (test/fixtures/corpus) normalises to a plan that the trainer's own reader, in a real Python process, accepts and
// reads back field for field: dataset references, 8-bit LoRA and activation offloading included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { axolotlToPlan } from '../../server/src/core/dialects/normalize/axolotl';
import { llamaFactoryToPlan } from '../../server/src/core/dialects/normalize/llamaFactory';
import type { TrainingPlan } from '../../server/src/core/plan/types';
import { corpusFiles, isAxolotlTraining, llamaFactorySubKind } from '../dialects/normalizeCorpus';
import { assertPythonReadsBack } from './contractHelpers';

const noFiles = () => false;

test('axolotl and LLaMA-Factory corpus plans: the Python reader reads each back field for field', () => {
  const cases: Array<{ name: string; plan: TrainingPlan }> = [];
  for (const file of corpusFiles('axolotl').filter(isAxolotlTraining)) {
    const { plan } = axolotlToPlan(file.doc, file.path, { fileExists: noFiles });
    assert.ok(plan, `${file.name}: no plan`);
    cases.push({ name: `axolotl/${file.name}`, plan });
  }
  for (const file of corpusFiles('llama-factory').filter((f) => llamaFactorySubKind(f) === 'train')) {
    const { plan } = llamaFactoryToPlan(file.doc, file.path, 'train', { fileExists: noFiles });
    assert.ok(plan, `${file.name}: no plan`);
    cases.push({ name: `llama-factory/${file.name}`, plan });
  }
  assert.ok(cases.length >= 170, `${cases.length} corpus plans`);
  const has = (pick: (p: TrainingPlan) => unknown) => cases.some((c) => Boolean(pick(c.plan)));
  assert.ok(
    has((p) => p.model.load_in_8bit) &&
      has((p) => p.training.activation_offloading) &&
      has((p) => /^[a-z]+:\/\//.test(p.data.train)),
    'the corpus exercises the optional fields and dataset references',
  );
  assertPythonReadsBack(cases);
});
