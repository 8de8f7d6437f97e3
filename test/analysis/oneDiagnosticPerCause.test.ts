import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { analyzeConfig, type AnalysisEnvironment } from '../../server/src/core/analysis/analyze';
import { doValidation } from '../../server/src/core/analysis/validation';
import { r } from '../helpers/cursor';

const ENVIRONMENT: AnalysisEnvironment = { platform: 'linux', env: {}, fallbackGpu: null, fileExists: () => true };
const analyze = (text: string, options: { json?: boolean; environment?: Partial<AnalysisEnvironment> } = {}) =>
  analyzeConfig({
    doc: parseConfigDocument(text, { json: options.json }),
    configPath: options.json ? '/work/project/run.finetune.json' : '/work/project/run.finetune.yaml',
    environment: { ...ENVIRONMENT, ...options.environment },
  });
const codes = (text: string, json = false) => analyze(text, { json }).diagnostics.map((d) => d.code);

const YAML = 'model: Qwen/Qwen2.5-7B-Instruct\nmethod: lora\ndata:\n  train: data/train.jsonl\n';
const JSON_CONFIG =
  '{\n  "model": "Qwen/Qwen2.5-7B-Instruct",\n  "method": "lora",\n  "data": {"train": "data/train.jsonl"}\n}\n';

test('a tab-indented file: the syntax error alone, no schema error or rule read from the broken structure', () => {
  const diagnostics = analyze(YAML.replace('  train', '\ttrain')).diagnostics;
  assert.deepEqual(
    diagnostics.map((d) => d.code),
    ['yaml-syntax'],
  );
  assert.match(String(diagnostics[0]!.message), /Tabs are not allowed/);
  assert.deepEqual(r(diagnostics[0]!.range), [3, 0, 3, 1]);
});

test('`model: [unclosed`: one diagnostic, and no plan is made from it', () => {
  const analysis = analyze(YAML.replace('Qwen/Qwen2.5-7B-Instruct', '[unclosed'));
  assert.deepEqual(
    analysis.diagnostics.map((d) => d.code),
    ['yaml-syntax'],
  );
  assert.equal(analysis.plan, null);
  assert.equal(analysis.estimate, undefined);
});

test('a syntax error after a duplicate key: the syntax error only (the duplicate is read from the broken structure)', () => {
  assert.deepEqual(codes(`${YAML}method: full\nlora: [r\n`), ['yaml-syntax']);
});

test('JSON configs are checked as JSON: trailing comma, single quotes, unclosed brace, comments', () => {
  const cases: Array<[string, string, RegExp, [number, number, number, number]]> = [
    [
      'trailing comma',
      JSON_CONFIG.replace('}\n}', '},\n}'),
      /^Trailing comma: JSON allows no comma before `\}`/,
      [3, 39, 3, 40],
    ],
    [
      'single quotes',
      JSON_CONFIG.replace('"method": "lora"', "'method': 'lora'"),
      /^JSON strings use double quotes, not single quotes: write "method"\./,
      [2, 2, 2, 10],
    ],
    [
      'unclosed brace',
      JSON_CONFIG.replace(/\}\n$/, ''),
      /^Unexpected end of the file: the object opened with `\{` on line 1 is not closed\. Add `\}`\./,
      [3, 38, 3, 39],
    ],
    ['a comment', JSON_CONFIG.replace('{\n', '{\n  // my run\n'), /^JSON allows no comments/, [1, 2, 1, 11]],
    [
      'a bare word',
      JSON_CONFIG.replace('"lora"', 'lora'),
      /Strings in JSON are written in double quotes: "lora"/,
      [2, 12, 2, 16],
    ],
  ];
  for (const [name, text, message, range] of cases) {
    const diagnostics = analyze(text, { json: true }).diagnostics;
    assert.deepEqual(
      diagnostics.map((d) => d.code),
      ['json-syntax'],
      name,
    );
    assert.match(String(diagnostics[0]!.message), message, name);
    assert.deepEqual(r(diagnostics[0]!.range), range, name);
  }
});

test('valid JSON gets the same schema diagnostics as YAML, at the JSON key', () => {
  const text = JSON_CONFIG.replace('"method": "lora",', '"method": "lora",\n  "lora": {"lora_alpa": 32},');
  const [d] = doValidation(parseConfigDocument(text, { json: true }));
  assert.equal(d!.code, 'schema-unknown-key');
  assert.deepEqual(r(d!.range), [3, 11, 3, 22]);
  assert.equal(parseConfigDocument(text, { json: true }).json, true);
  const withSchemaKey = JSON_CONFIG.replace('{\n', '{\n  "$schema": "../schemas/finetune.schema.json",\n');
  assert.deepEqual(
    doValidation(parseConfigDocument(withSchemaKey, { json: true })),
    [],
    'a $schema key for other tools is allowed',
  );
});

test('`target_modules: q_proj` says a list of module names is accepted, with the list as a fix', () => {
  const [d] = doValidation(parseConfigDocument(`${YAML}lora:\n  target_modules: q_proj\n`));
  assert.equal(
    String(d!.message),
    '`lora.target_modules` must be `all-linear`, or a list of module names such as `[q_proj, k_proj, v_proj, o_proj]`, or a regular expression over full module names (such as `.*\\.(q|v)_proj`); got "q_proj".',
  );
  const fixes = (d!.data as { fixes: Array<{ title: string; edits: unknown[] }> }).fixes;
  assert.deepEqual(
    fixes.map((f) => f.edits),
    [[{ kind: 'set', path: ['lora', 'target_modules'], value: ['q_proj'] }]],
  );
});

test('a misspelled model id: a warning naming the catalog id, with a fix', () => {
  const [d] = analyze(YAML.replace('Instruct', 'Instrct')).diagnostics.filter((x) => x.code === 'model-unknown');
  assert.equal(d!.severity, 2);
  assert.match(String(d!.message), /^Did you mean "Qwen\/Qwen2\.5-7B-Instruct"\?/);
  // Not the preferred fix: without the Hub's word that the typed id does not exist, a change of base model is never auto-applied.
  assert.deepEqual((d!.data as { fixes: unknown[] }).fixes, [
    {
      title: 'Change to `Qwen/Qwen2.5-7B-Instruct`',
      edits: [{ kind: 'set', path: ['model'], value: 'Qwen/Qwen2.5-7B-Instruct' }],
    },
  ]);
  const far = analyze(YAML.replace('Qwen/Qwen2.5-7B-Instruct', 'acme/mystery-7b')).diagnostics.filter(
    (x) => x.code === 'model-unknown',
  );
  assert.equal(far[0]!.severity, 3, 'no close id: info, as before');
});

test('yaml-duplicate-key names the key', () => {
  const [d] = doValidation(parseConfigDocument(`${YAML}method: full\n`));
  assert.equal(d!.code, 'yaml-duplicate-key');
  assert.equal(String(d!.message), 'Duplicate key `method`: the later value silently wins. Remove one of them.');
});

test('a half-typed `lr_scheduler_type:` gets one diagnostic at its key, not a type, an enum and a rule info', () => {
  const diagnostics = analyze(`${YAML}training:\n  lr_scheduler_type:\n`).diagnostics.filter(
    (d) => d.range.start.line === 5,
  );
  assert.deepEqual(
    diagnostics.map((d) => d.code),
    ['schema-type'],
  );
  assert.equal(
    String(diagnostics[0]!.message),
    '`training.lr_scheduler_type` has no value: write one of `linear`, `cosine`, `constant`, `constant_with_warmup`, or remove the key.',
  );
  assert.deepEqual(r(diagnostics[0]!.range), [5, 2, 5, 19]);
});

const NO_FIT =
  'model: Qwen/Qwen2.5-7B-Instruct\nmethod: full\ndata:\n  train: data/train.jsonl\nhardware:\n  gpu: T4\n';

test('memory-no-fit comes from the registry: suppression comments and severity overrides apply', () => {
  assert.ok(codes(NO_FIT).includes('memory-no-fit'));
  assert.ok(!codes(`# lora-lens-disable-next-line memory-no-fit\n${NO_FIT}`).includes('memory-no-fit'));
  const warned = analyze(NO_FIT, {
    environment: { severityOverrides: { 'memory-no-fit': 'warning' } },
  }).diagnostics.find((d) => d.code === 'memory-no-fit');
  assert.equal(warned!.severity, 2);
  assert.equal((warned!.data as { rule: string }).rule, 'memory-no-fit');
  assert.ok(
    !analyze(NO_FIT, { environment: { severityOverrides: { 'memory-no-fit': 'off' } } }).diagnostics.some(
      (d) => d.code === 'memory-no-fit',
    ),
  );
});

test('gpu-unknown comes from the registry: suppressed by a comment, its fix kept', () => {
  const text = `${YAML}hardware:\n  gpu: RTX 9999\n`;
  const [d] = analyze(text).diagnostics.filter((x) => x.code === 'gpu-unknown');
  assert.deepEqual(r(d!.range), [5, 7, 5, 15]);
  assert.deepEqual(
    (d!.data as { fixes: Array<{ title: string }> }).fixes.map((f) => f.title),
    ['Detect the GPU (auto)'],
  );
  assert.ok(
    !codes(text.replace('  gpu:', '  # lora-lens-disable-next-line gpu-unknown\n  gpu:')).includes('gpu-unknown'),
  );
});

test('a suppression comment naming no rule gets a warning at the id, with the closest rule id', () => {
  const text = `${YAML}training:\n  # lora-lens-disable-next-line lr-rnage, no-such-rule\n  learning_rate: 0.1\n`;
  const unknown = analyze(text).diagnostics.filter((d) => d.code === 'unknown-rule-id');
  assert.deepEqual(
    unknown.map((d) => [d.severity, r(d.range)]),
    [
      [2, [5, 32, 5, 40]],
      [2, [5, 42, 5, 54]],
    ],
  );
  assert.equal(
    String(unknown[0]!.message),
    '`lr-rnage` is not a LoRA Lens rule id, so this comment suppresses nothing for it. Did you mean `lr-range`?',
  );
  assert.match(String(unknown[1]!.message), /`no-such-rule` is not a LoRA Lens rule id.*docs\/rules\.md/);
  assert.ok(codes(text).includes('lr-range'), 'the misspelled id suppressed nothing');
  assert.ok(!codes(text.replace('lr-rnage, no-such-rule', 'lr-range')).includes('unknown-rule-id'));
});
