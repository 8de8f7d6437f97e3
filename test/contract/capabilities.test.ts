// The TypeScript side of schemas/trainer-capabilities.json: what the rules advise and quick-fix to is what the bundled
// trainer renders, and what it refuses at start is an error in `check` (trainer/tests/test_capabilities.py checks the
// file against the trainer's code).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { FAMILY_TEMPLATE, proposedTemplate } from '../../server/src/core/rules/chatTemplate';
import { TRAINER_CAPABILITIES, refusalsFor } from '../../server/src/core/rules/trainerCapabilities';
import { RULES } from '../../server/src/core/rules';
import { trainerRefusal } from '../../server/src/core/rules/trainerRefusal';
import { buildPlan } from '../../server/src/core/analysis/buildPlan';
import { set } from '../../server/src/core/rules/util';
import { BASE, assertFires, assertFiresAndFixes, assertSilent, variant } from '../rules/helpers';
import { REPO } from '../plan/contractHelpers';

const schemaFile = (name: string) => JSON.parse(readFileSync(join(REPO, 'schemas', name), 'utf8')) as object;

test('the capabilities file matches its schema', () => {
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schemaFile('trainer-capabilities.schema.json'));
  assert.ok(validate(schemaFile('trainer-capabilities.json')), JSON.stringify(validate.errors));
});

test('every template the chat-template rule proposes is one the trainer renders', () => {
  const known = Object.keys(TRAINER_CAPABILITIES.chat_templates);
  for (const [family, name] of Object.entries(FAMILY_TEMPLATE)) assert.ok(known.includes(name), `${family} -> ${name}`);
  assert.ok(known.includes(proposedTemplate('llama', 'meta-llama/Llama-2-7b-hf', 32_000)));
  assert.equal(proposedTemplate('qwen2', 'Qwen/Qwen2.5-7B', 152_064), 'qwen2.5');
  for (const name of known) {
    for (const family of TRAINER_CAPABILITIES.chat_templates[name]!.families)
      assert.ok(family in FAMILY_TEMPLATE, `${name}: family ${family}`);
  }
});

test('issue 18: a Qwen2.5 base model is advised a template the trainer knows, and its quick fix silences the rule', () => {
  const fixed = assertFiresAndFixes(
    'chat-template',
    variant([set(['model'], 'Qwen/Qwen2.5-7B')]),
    {},
    /Name a template \(`qwen2.5`\)/,
  );
  assert.match(fixed, /chat_template: qwen2\.5/);
});

test('a template name the trainer does not know is an error with the nearest known name as its fix', () => {
  const d = assertFires(
    'chat-template',
    variant([set(['data', 'chat_template'], 'chatm')]),
    {},
    /not a template the bundled trainer knows/,
  );
  assert.equal(d.severity, 1);
  assertFiresAndFixes('chat-template', variant([set(['data', 'chat_template'], 'chatm')]));
  assertSilent(
    'chat-template',
    variant([set(['data', 'chat_template'], '{% for m in messages %}{{ m.content }}{% endfor %}')]),
  );
});

test('issue 18: DoRA, and a LoRA bias other than none, are errors for the bundled trainer with a fix that clears them', () => {
  const dora = variant([set(['lora', 'use_dora'], true), set(['lora', 'bias'], 'all')]);
  assert.ok(RULES.includes(trainerRefusal), 'trainer-refusal is in the registry');
  const d = assertFires('trainer-refusal', dora, {}, /refuses this at start/);
  assert.equal(d.severity, 1);
  const once = assertFiresAndFixes('trainer-refusal', variant([set(['lora', 'use_dora'], true)]));
  assert.match(once, /use_dora: false/);
  assertFiresAndFixes('trainer-refusal', variant([set(['lora', 'bias'], 'lora_only')]));
  assertSilent('trainer-refusal', BASE);
  // Another tool's config (a dialect document) runs on that tool, which has DoRA: nothing to say there.
  const { plan, document } = buildPlan(dora, '/p/c.finetune.yaml');
  const input = { doc: document, plan: plan!, configPath: '/p/c.finetune.yaml', platform: 'linux' as const };
  assert.equal(trainerRefusal.check(input).length, 2);
  assert.deepEqual(
    trainerRefusal.check({ ...input, dialect: { id: 'axolotl', displayName: 'axolotl', sources: {} } }),
    [],
  );
});

test('refusalsFor applies every refusal of the file whose conditions the plan meets', () => {
  const { plan } = buildPlan(
    'model: x\nmethod: qlora\nprecision: fp16-mixed\nlora: {use_dora: true, bias: all}\nquantization: {bnb_4bit_quant_type: fp4}\nhardware: {num_gpus: 2, distributed: fsdp}\ndata: {train: a.jsonl}\n',
    '/p/c.finetune.yaml',
  );
  assert.ok(plan);
  // fsdp-offload-without-fsdp wants what the fsdp refusals exclude (distributed none or ddp): a second plan meets it.
  const { plan: ddpOffload } = buildPlan(
    'model: x\nmethod: lora\nhardware: {num_gpus: 2, distributed: ddp, fsdp: {offload_params: true}}\ndata: {train: a.jsonl}\n',
    '/p/c.finetune.yaml',
  );
  assert.ok(ddpOffload);
  assert.deepEqual(
    [...refusalsFor(plan), ...refusalsFor(ddpOffload)].map((r) => r.id).sort(),
    TRAINER_CAPABILITIES.refusals.map((r) => r.id).sort(),
  );
  assert.deepEqual(
    refusalsFor(ddpOffload).map((r) => r.id),
    ['fsdp-offload-without-fsdp'],
  );
  const { plan: full } = buildPlan('model: x\nmethod: full\ndata: {train: a.jsonl}\n', '/p/c.finetune.yaml');
  assert.deepEqual(refusalsFor(full!), []);
  const { plan: fullDpo } = buildPlan(
    'model: x\nmethod: full\nobjective: dpo\ndata: {train: a.jsonl}\n',
    '/p/c.finetune.yaml',
  );
  // Full-fine-tuning DPO runs (its reference log-probs are precomputed): nothing refused.
  assert.deepEqual(refusalsFor(fullDpo!), []);
});
