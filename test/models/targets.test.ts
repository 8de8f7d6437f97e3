import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  adaptedInstances,
  catalogModel,
  linearModules,
  loraParameters,
  NON_DECODER_MODULES,
  targetMatcher,
  unknownTargets,
} from '../../server/src/core/models/index';
import type { ModelSpec, TargetModules } from '../../server/src/core/models/index';

interface Row {
  case: string;
  target_modules: TargetModules;
  adapted: string[];
  other: string[];
}
const table = JSON.parse(readFileSync(join(__dirname, '../fixtures/target-modules.json'), 'utf8')) as {
  model: { num_hidden_layers: number };
  rows: Row[];
};

/** The table's model: a Llama layout with the table's layer count (the Python side builds the same from a config). */
const tiny: ModelSpec = { ...catalogModel('meta-llama/Llama-3.1-8B')!, numLayers: table.model.num_hidden_layers };

for (const row of table.rows) {
  test(`target-modules table: ${row.case}`, () => {
    const adapted = adaptedInstances(tiny, row.target_modules)
      .map((m) => m.name)
      .sort();
    assert.deepEqual(adapted, row.adapted);
    const perCopy = (name: string) => {
      const m = linearModules(tiny).find((l) => name.endsWith(`.${l.parent}.${l.name}`))!;
      return 16 * (m.inFeatures + m.outFeatures);
    };
    assert.equal(
      loraParameters(tiny, row.target_modules, 16),
      adapted.reduce((sum, name) => sum + perCopy(name), 0),
    );
    const matches = targetMatcher(row.target_modules);
    const others = row.other.filter((name) => (NON_DECODER_MODULES as readonly string[]).includes(name));
    for (const name of others) assert.ok(matches(name), `${name} is selected by PEFT's rule`);
    if (row.adapted.length === 0 && others.length === 0) {
      // Nothing the model has by these names: every entry is reported (the rule's error), as the trainer refuses it.
      const entries = typeof row.target_modules === 'string' ? [row.target_modules] : [...row.target_modules];
      assert.deepEqual(unknownTargets(tiny, row.target_modules), entries);
    } else {
      assert.deepEqual(unknownTargets(tiny, row.target_modules), []);
    }
  });
}

test('Mixtral routed experts and router are parameters in transformers 5: no target adapts them', () => {
  const spec = catalogModel('mistralai/Mixtral-8x7B-v0.1')!;
  assert.deepEqual(adaptedInstances(spec, ['layers.0.mlp.experts.0.w1']), []);
  assert.deepEqual(adaptedInstances(spec, ['w1', 'w2', 'w3', 'gate']), []);
  // all-linear is the attention: 4 linears a layer.
  assert.equal(adaptedInstances(spec, 'all-linear').length, spec.numLayers * 4);
  assert.equal(loraParameters(spec, ['w1', 'w2', 'w3'], 16), 0);
  // The names stay known (PEFT maps them onto the fused parameters for the tools): no unknown-target error.
  assert.deepEqual(unknownTargets(spec, ['w1', 'w2', 'w3']), []);
});
