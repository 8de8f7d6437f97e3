/**
 * The layout families against transformers itself: each catalog entry's published config.json values are built on
 * the meta device by scripts/models/count_params.py (AutoModelForCausalLM.from_config, nothing downloaded), and LoRA
 * Lens's parameter count must equal transformers' to the parameter, and its decoder-layer linears (one layer, dense
 * modules: transformers 5 keeps routed experts as fused parameters, not Linear modules) must have transformers'
 * names, shapes and biases. Needs LORA_LENS_TEST_PYTHON with transformers (InternLM2 is remote code: left out).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { CATALOG_CONFIGS, catalogModel } from '../../server/src/core/models/catalog';
import { countParameters, linearModules } from '../../server/src/core/models/params';

const PYTHON = process.env.LORA_LENS_TEST_PYTHON;
const hasTransformers = PYTHON
  ? spawnSync(PYTHON, ['-c', 'import transformers'], { encoding: 'utf8' }).status === 0
  : false;
const skip = !PYTHON ? 'LORA_LENS_TEST_PYTHON is not set' : !hasTransformers ? `no transformers in ${PYTHON}` : false;
const SCRIPT = resolve(__dirname, '..', '..', 'scripts', 'models', 'count_params.py');

test(
  "every layout family's catalog entry counts transformers' parameters and has its layer's linears",
  { skip },
  () => {
    const configs = Object.fromEntries(Object.entries(CATALOG_CONFIGS).filter(([, c]) => c.model_type !== 'internlm2'));
    const run = spawnSync(PYTHON!, [SCRIPT, '1'], {
      input: JSON.stringify(configs),
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(run.status, 0, run.stderr);
    const rows = run.stdout
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as { name: string; total: number; linears: Array<[string, number, number, boolean]> },
      );
    assert.equal(rows.length, Object.keys(configs).length);
    for (const row of rows) {
      const spec = catalogModel(row.name)!;
      assert.equal(countParameters(spec).total, row.total, `${row.name}: parameters`);
      const ours = linearModules(spec)
        .filter((m) => m.count === 1)
        .map((m) => [`${m.parent}.${m.name}`, m.inFeatures, m.outFeatures, m.bias]);
      assert.deepEqual(ours, row.linears, `${row.name}: the linears of decoder layer 1`);
    }
  },
);
