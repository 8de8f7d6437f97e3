import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isConfigFile, matchesGlob } from '../../server/src/core/document/fileMatcher';
import { detectDialect } from '../../server/src/core/dialects';
import { compileTargetPattern, targetPatternProblem } from '../../server/src/core/models/targetPattern';
import { catalogModel, loraParameters, selectTargets, unknownTargets } from '../../server/src/core/models';
import { LspTestClient } from '../helpers/lspClient';
import { REPO } from '../helpers/cli';

/** Globs and regular expressions written to make a backtracking engine take exponential (or high-power) time. */
const HOSTILE_GLOBS = [
  '**/'.repeat(60) + 'x',
  '*'.repeat(200) + 'x',
  '{a,'.repeat(50) + 'b' + '}'.repeat(50) + '*'.repeat(50) + 'x',
  '?*'.repeat(100) + 'x',
];
const HOSTILE_REGEXES = [
  '(.*.*.*.*.*.*)*X',
  '(a+)+$',
  '(a|a)*X',
  '(.*){1,32}X',
  '.*'.repeat(40) + 'X',
  '((a*)*)*b',
  '(\\w+\\.?)*X',
];
const LONG_PATH = 'a/'.repeat(1000) + 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.yaml';

test('hostile globs answer (no match) on long paths: the matcher is linear', { timeout: 60_000 }, () => {
  for (const glob of HOSTILE_GLOBS) assert.equal(matchesGlob(glob, LONG_PATH), false, glob);
  for (const glob of HOSTILE_GLOBS)
    assert.equal(isConfigFile('/w/' + LONG_PATH, '', { files: [glob] }, LONG_PATH), false, glob);
  const settings = { dialects: Object.fromEntries(HOSTILE_GLOBS.map((g) => [g, 'axolotl' as const])) };
  assert.notEqual(detectDialect('base_model: x\n', '/w/' + LONG_PATH, settings).source, 'setting');
});

test('globs keep their meaning: segment-anchored, * within a segment, ** across, braces (nested too), ? one character', () => {
  const cases: Array<[string, string, boolean]> = [
    ['configs/*.yaml', '/w/configs/a.yaml', true],
    ['configs/*.yaml', '/w/configs/x/a.yaml', false],
    ['configs/**/*.yaml', '/w/configs/x/y/a.yaml', true],
    ['configs/**/*.yaml', '/w/configs/a.yaml', true],
    ['**/*.finetune.{yaml,yml,json}', '/p/c.finetune.json', true],
    ['*.{a,{b,c}d}', 'x.cd', true],
    ['*.{a,{b,c}d}', 'x.c', false],
    ['tr?in.yaml', '/w/train.yaml', true],
    ['tr?in.yaml', '/w/tr/in.yaml', false],
    ['ain.yaml', '/w/train.yaml', false],
    ['axolotl/**', '/w/axolotl/a/b.yml', true],
    ['{a,b', 'b', true],
    ['a.b', 'axb', false],
  ];
  for (const [glob, path, expected] of cases) assert.equal(matchesGlob(glob, path), expected, `${glob} ~ ${path}`);
  assert.equal(matchesGlob('**/*.finetune.{yaml,yml}', '/p/B.FINETUNE.YML', true), true);
});

test(
  'hostile target_modules regexes are answered, and ordinary ones match as Python re.fullmatch does',
  { timeout: 60_000 },
  () => {
    const name = 'model.layers.31.self_attn.q_proj'.repeat(3);
    for (const pattern of HOSTILE_REGEXES) assert.equal(compileTargetPattern(pattern).matches(name), false, pattern);
    const spec = catalogModel('meta-llama/Llama-3.1-8B-Instruct')!;
    for (const pattern of HOSTILE_REGEXES) assert.deepEqual(unknownTargets(spec, pattern), [pattern]);
    const cases: Array<[string, string, boolean]> = [
      ['.*\\.(q|v)_proj', 'model.layers.0.self_attn.q_proj', true],
      ['.*\\.(q|v)_proj', 'model.layers.0.self_attn.k_proj', false],
      ['model\\.layers\\.[0-4]\\..*', 'model.layers.13.mlp.up_proj', false],
      ['model.layers.\\d+.mlp.*', 'model.layers.13.mlp.up_proj', true],
      ['^.*proj$', 'a.proj', true],
      ['a{2,3}', 'aaaa', false],
      ['(?P<x>a)b', 'ab', true],
      ['[^.]+', 'a.b', false],
      ['\\Aab\\Z', 'ab', true],
    ];
    for (const [pattern, text, expected] of cases)
      assert.equal(compileTargetPattern(pattern).matches(text), expected, `${pattern} ~ ${text}`);
    // Counted by layer without building the names: the first 5 layers' q and v.
    assert.equal(
      loraParameters(spec, 'model\\.layers\\.[0-4]\\.self_attn\\.(q|v)_proj', 8),
      5 * 8 * (4096 + 4096 + 4096 + 1024),
    );
    assert.deepEqual(
      selectTargets(spec, '.*mlp.*').map((m) => m.name),
      ['gate_proj', 'up_proj', 'down_proj'],
    );
  },
);

test('regex syntax the linear matcher does not evaluate is refused with what to write instead', () => {
  assert.match(targetPatternProblem('(?!.*vision).*proj')!, /lookaround .* list the module names instead/);
  assert.match(targetPatternProblem('(q)_proj\\1')!, /backreference/);
  assert.match(targetPatternProblem('a{5000}')!, /over 1000/);
  assert.equal(targetPatternProblem('.*\\.(q|v)_proj'), undefined);
});

test(
  'a hostile loraLens.files glob and a hostile target_modules regex over a real LSP connection: the server answers',
  { timeout: 120_000 },
  async () => {
    const client = new LspTestClient({ LORA_LENS_NO_GPU_DETECT: '1', LORA_LENS_DEBOUNCE_MS: '0' });
    client.connection.onRequest('workspace/configuration', () => [
      { files: HOSTILE_GLOBS, dialects: { [HOSTILE_GLOBS[0]!]: 'axolotl' } },
    ]);
    try {
      await client.initialize(pathToFileURL(REPO).href);
      const uri = pathToFileURL(join(REPO, 'examples', 'a/'.repeat(200) + 'hostile-regex.finetune.yaml')).href;
      const published = client.diagnostics(uri, 1, 60_000);
      await client.open(
        uri,
        `model: meta-llama/Llama-3.1-8B-Instruct\nmethod: lora\nlora:\n  r: 8\n  target_modules: '(.*.*.*.*.*.*)*X'\ndata:\n  train: data/train.jsonl\n  format: chat\n`,
      );
      const { diagnostics } = await published;
      const target = diagnostics.find((d) => d.code === 'target-modules');
      assert.ok(target, JSON.stringify(diagnostics));
      assert.match(String(target.message), /matches no module of meta-llama\/Llama-3.1-8B-Instruct/);
    } finally {
      await client.dispose();
    }
  },
);

test('the glob settings (and the interpreter path) are ignored from an untrusted workspace: restrictedConfigurations', () => {
  const manifest = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
    capabilities: { untrustedWorkspaces: { restrictedConfigurations: string[] } };
  };
  const restricted = manifest.capabilities.untrustedWorkspaces.restrictedConfigurations;
  for (const key of ['loraLens.files', 'loraLens.dialects', 'loraLens.pythonPath'])
    assert.ok(restricted.includes(key), key);
});
