import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertFires, assertFiresAndFixes, assertSilent, ofRule, run, variant } from './helpers';
import { set } from '../../server/src/core/rules/util';
import { moduleNameOf } from '../../server/src/core/models';

const PROJECTIONS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
const fullPaths = (layers: number, projections = PROJECTIONS): string[] =>
  Array.from({ length: layers }, (_, layer) =>
    projections.map(
      (p) => `model.layers.${layer}.${['gate_proj', 'up_proj', 'down_proj'].includes(p) ? 'mlp' : 'self_attn'}.${p}`,
    ),
  ).flat();
const targets = (names: string[]): string => variant([set(['lora', 'target_modules'], names)]);

test('target-modules: the module name of a target is its last dotted segment (PEFT matches name == target or name ends with "." + target)', () => {
  assert.equal(moduleNameOf('q_proj'), 'q_proj');
  assert.equal(moduleNameOf('self_attn.q_proj'), 'q_proj');
  assert.equal(moduleNameOf('model.layers.0.self_attn.q_proj'), 'q_proj');
});

test('target-modules: full module paths and suffixes of real modules are not flagged', () => {
  assertSilent('target-modules', targets(fullPaths(28)));
  assertSilent(
    'target-modules',
    targets(['self_attn.q_proj', 'self_attn.v_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj']),
  );
});

test('target-modules: a full path ending in a name the model lacks is flagged, at its item', () => {
  const names = [...fullPaths(2), 'model.layers.0.mlp.c_fc'];
  const diagnostic = assertFires(
    'target-modules',
    targets(names),
    {},
    /`model\.layers\.0\.mlp\.c_fc` is not a module of/,
  );
  assert.equal(diagnostic.severity, 1);
  const data = diagnostic.data as { unknown: string[]; unknownCount: number };
  assert.deepEqual(data.unknown, ['model.layers.0.mlp.c_fc']);
  assert.equal(data.unknownCount, 1);
});

test('target-modules: attention-only by full paths fires, and the message lists at most 8 names', () => {
  const names = fullPaths(10, ['q_proj', 'v_proj']);
  const diagnostic = assertFires(
    'target-modules',
    targets(names),
    {},
    /attention projections only \(model\.layers\.0\.self_attn\.q_proj, .* …and 12 more\)/,
  );
  const data = diagnostic.data as { targets: string[]; targetCount: number };
  assert.equal(data.targets.length, 8);
  assert.equal(data.targetCount, 20);
});

test('target-modules: many unknown names are capped in the message, the fix title and the data', () => {
  const names = Array.from({ length: 30 }, (_, i) => `h.${i}.attn.c_attn`);
  const [diagnostic] = ofRule(run(targets(names)), 'target-modules');
  assert.ok(diagnostic);
  const message = String(diagnostic.message);
  assert.match(message, /`h\.7\.attn\.c_attn` …and 22 more are not modules of/);
  assert.ok(message.length < 600, `message of ${message.length} chars`);
  assert.ok(JSON.stringify(diagnostic.data).length < 2000);
});

test('target-modules: PEFT matches whole segments, so `attn.q_proj` selects nothing (self_attn ≠ attn) and is flagged', () => {
  const diagnostic = assertFires(
    'target-modules',
    targets(['attn.q_proj', 'mlp.down_proj']),
    {},
    /`attn\.q_proj` is not a module of .*PEFT adapts the other entries and silently drops it/,
  );
  assert.deepEqual((diagnostic.data as { unknown: string[] }).unknown, ['attn.q_proj']);
  assertFires(
    'target-modules',
    targets(['attn.q_proj']),
    {},
    /PEFT stops with "Target modules \.\.\. not found in the base model"/,
  );
  assertSilent(
    'target-modules',
    targets(['layers.0.self_attn.q_proj', '1.mlp.down_proj', 'self_attn.v_proj', 'mlp.up_proj']),
  );
});

test('target-modules: a container module (`mlp`) or a layer the model lacks is flagged', () => {
  assertFires('target-modules', targets(['mlp', 'q_proj']), {}, /`mlp` is not a module of/);
  assertFires(
    'target-modules',
    targets(['layers.500.self_attn.q_proj', 'q_proj']),
    {},
    /`layers\.500\.self_attn\.q_proj` is not a module of/,
  );
});

test('target-modules: the output head or the embedding is an error for the bundled trainer (it refuses them; PEFT adapts them)', () => {
  const diagnostic = assertFires(
    'target-modules',
    targets(['q_proj', 'gate_proj', 'lm_head', 'embed_tokens']),
    {},
    /`model\.embed_tokens`, `lm_head` are not decoder linear layers: the bundled trainer refuses/,
  );
  assert.deepEqual((diagnostic.data as { outside: string[] }).outside, ['model.embed_tokens', 'lm_head']);
  assertSilent(
    'target-modules',
    variant([set(['lora', 'target_modules'], ['q_proj', 'gate_proj', 'lm_head']), set(['engine'], 'hf')]),
  );
});

// A string other than all-linear is PEFT's regular expression over full names (re.fullmatch).
const pattern = (regex: string): string => variant([set(['lora', 'target_modules'], regex)]);

test('target-modules: a regular expression that selects decoder linears is accepted; one of attention only is the attention-only warning', () => {
  assertSilent('target-modules', pattern('.*\\.(q|k|v|o|gate|up|down)_proj'));
  assertSilent('target-modules', pattern('model\\.layers\\.(2[0-7])\\..*_proj'));
  const attention = assertFires(
    'target-modules',
    pattern('.*\\.(q|v)_proj'),
    {},
    /^Adapters on attention projections only \(q_proj, v_proj\)/,
  );
  assert.equal(attention.severity, 2);
});

test('target-modules: a regular expression matching no module is an error; one that reads as a name offers the list form', () => {
  const diagnostic = assertFires(
    'target-modules',
    pattern('self_attn.q_proj'),
    {},
    /^`self_attn\.q_proj` is a regular expression that must match a module's whole full name .* matches no module of Qwen\/Qwen2\.5-7B-Instruct/,
  );
  assert.equal(diagnostic.severity, 1);
  const fixes = (diagnostic.data as { fixes: Array<{ title: string; edits: unknown[]; isPreferred?: boolean }> }).fixes;
  assert.deepEqual(fixes[0], {
    title: 'Write as a list: `[self_attn.q_proj]`',
    edits: [{ kind: 'set', path: ['lora', 'target_modules'], value: ['self_attn.q_proj'] }],
    isPreferred: true,
  });
  assert.match(
    String(assertFires('target-modules', pattern('model\\.layers\\.99\\..*'), {}).message),
    /matches no module/,
  );
});

test('target-modules: a regular expression reaching the head or the embedding is an error for the bundled trainer, not for PEFT', () => {
  assertFires(
    'target-modules',
    pattern('.*'),
    {},
    /`model\.embed_tokens`, `lm_head` are not decoder linear layers.*Narrow the pattern/,
  );
  assertSilent('target-modules', variant([set(['lora', 'target_modules'], '.*_proj|lm_head'), set(['engine'], 'hf')]));
});

test('target-modules: a pattern JavaScript cannot read is a warning that says nothing was checked', () => {
  const diagnostic = assertFires(
    'target-modules',
    pattern('(q|v_proj'),
    {},
    /is not a regular expression LoRA Lens can read/,
  );
  assert.equal(diagnostic.severity, 2);
});

test("target-modules: names of an MoE model's routed experts adapt nothing in the bundled trainer (transformers 5 fuses them)", () => {
  const mixtral = (names: string[]): string =>
    variant([set(['model'], 'mistralai/Mixtral-8x7B-v0.1'), set(['lora', 'target_modules'], names)]);
  const some = assertFires(
    'target-modules',
    mixtral(['q_proj', 'v_proj', 'w1', 'w3', 'w2']),
    {},
    /`w1`, `w3`, `w2` name/,
  );
  assert.equal(some.severity, 2);
  assert.deepEqual((some.data as { fused: string[] }).fused, ['w1', 'w3', 'w2']);
  const only = assertFiresAndFixes(
    'target-modules',
    mixtral(['w1', 'w3', 'w2', 'gate']),
    {},
    /matched no linear layer/,
  );
  assert.match(only, /target_modules: all-linear/);
  // The same names on a dense model are not modules at all: the unknown-name error, not this one.
  assertFires('target-modules', targets(['w1']), {}, /`w1` is not a module of/);
  const attention = ofRule(run(mixtral(['q_proj', 'k_proj', 'v_proj', 'o_proj'])), 'target-modules');
  assert.ok(!attention.some((d) => /routed experts/.test(String(d.message))), 'linear names only: no expert finding');
});
