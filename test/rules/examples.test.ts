import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { inspectDataset, tokenizerPathFor } from '../../server/src/core/data';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { gpuFromSetting } from '../../server/src/core/gpu';
import { resolveModel } from '../../server/src/core/models';
import { toTrainingPlan } from '../../server/src/core/plan/normalize';
import { checkRules } from '../../server/src/core/rules';

const EXAMPLES = resolve(__dirname, '../../examples');

for (const name of readdirSync(EXAMPLES).filter((n) => /\.finetune\.(ya?ml|json)$/.test(n))) {
  test(`examples/${name} is clean under every rule, with its data inspected`, async () => {
    const configPath = join(EXAMPLES, name);
    const doc = parseConfigDocument(readFileSync(configPath, 'utf8'));
    const plan = toTrainingPlan(doc, configPath);
    assert.ok(plan);
    const model = resolveModel(plan.model, { configDir: EXAMPLES, env: { HF_HUB_CACHE: '/nonexistent/hub' } });
    const gpu = plan.hardware.gpu === 'auto' ? undefined : gpuFromSetting(plan.hardware.gpu);
    const options = { format: plan.data.format, tokenizerPath: tokenizerPathFor(model) };
    const dataset = await inspectDataset(plan.data.train, options);
    const evalDataset = plan.data.eval ? await inspectDataset(plan.data.eval, options) : undefined;
    const diagnostics = checkRules({
      doc,
      plan,
      configPath,
      model,
      gpu: gpu?.ok ? gpu.gpu : undefined,
      dataset,
      evalDataset,
      platform: 'linux',
    });
    assert.deepEqual(
      diagnostics.map((d) => `${d.range.start.line + 1}: ${String(d.code)} ${String(d.message)}`),
      [],
    );
  });
}
