import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DiagnosticSeverity } from 'vscode-languageserver-types';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { detectDialect, validateDialect } from '../../server/src/core/dialects';
import { CORPUS_DIR, corpusFiles, type CorpusFile } from './corpusFiles';

interface Expected {
  errors: Array<{ file: string; line: number; code: string; reason: string }>;
  unknownKeys: Record<'axolotl' | 'llama-factory', string[]>;
}
const expected = JSON.parse(readFileSync(join(CORPUS_DIR, 'expected-errors.json'), 'utf8')) as Expected;

const checked = new Map<string, ReturnType<typeof checkOnce>>();

/** Each corpus file parsed and checked once for all the tests here. */
function check(file: CorpusFile) {
  let result = checked.get(file.id);
  if (!result) checked.set(file.id, (result = checkOnce(file)));
  return result;
}

function checkOnce(file: CorpusFile) {
  const doc = parseConfigDocument(file.text);
  const match = detectDialect(doc, file.path);
  return { match, diagnostics: validateDialect(doc, match, { configDir: dirname(file.path) }) };
}

test('no corpus file gets an error the tool itself would not raise, and each expected one is there', () => {
  const found: string[] = [];
  for (const file of [...corpusFiles('axolotl'), ...corpusFiles('llama-factory')]) {
    for (const d of check(file).diagnostics) {
      if (d.severity === DiagnosticSeverity.Error) found.push(`${file.id}:${d.range.start.line + 1} ${String(d.code)}`);
    }
  }
  assert.deepEqual(found.sort(), expected.errors.map((e) => `${e.file}:${e.line} ${e.code}`).sort());
  for (const entry of expected.errors) assert.ok(entry.reason.length > 20, `${entry.file}: give the reason`);
});

test('unknown-key findings name only the keys the tool does not know', () => {
  for (const tool of ['axolotl', 'llama-factory'] as const) {
    const keys = new Set<string>();
    for (const file of corpusFiles(tool)) {
      for (const d of check(file).diagnostics) {
        if (d.code === `${tool === 'axolotl' ? 'axolotl' : 'lf'}-unknown-key`)
          keys.add(String((d.data as { path: unknown[] }).path.at(-1)));
      }
    }
    assert.deepEqual([...keys].sort(), [...expected.unknownKeys[tool]].sort(), tool);
  }
});

test('the context-parallel example gets its typo pointed out, with the fix', () => {
  const file = corpusFiles('axolotl').find((f) => f.name === 'examples__falcon-h1__falcon-h1-1b-qlora-cp.yaml')!;
  const d = check(file).diagnostics.find((x) => x.code === 'axolotl-unknown-key')!;
  assert.equal(d.severity, DiagnosticSeverity.Warning);
  assert.equal(
    file.text.split('\n')[d.range.start.line]!.slice(d.range.start.character, d.range.end.character),
    'context_parapllel_size',
  );
  assert.match(
    String(d.message),
    /^axolotl ignores `context_parapllel_size` without a word.*Did you mean `context_parallel_size`\?$/,
  );
});

test('torchtune recipes, v1 and launcher configs get no diagnostics', () => {
  const skipped = [
    ...corpusFiles('torchtune'),
    ...corpusFiles('llama-factory').filter(
      (f) => f.name.startsWith('examples__v1__') || f.name.includes('__accelerate__'),
    ),
  ];
  assert.equal(skipped.length, 25 + 19);
  for (const file of skipped) {
    const { match, diagnostics } = check(file);
    assert.ok(match.notChecked, file.id);
    assert.deepEqual(diagnostics, [], file.id);
  }
});

test('env-gated LLaMA-Factory keys are explained as such, never reported unknown', () => {
  const file = corpusFiles('llama-factory').find((f) => f.name === 'examples__megatron__qwen3_moe_full.yaml')!;
  const diagnostics = check(file).diagnostics;
  const gated = diagnostics.filter((d) => d.code === 'lf-env-key');
  assert.ok(gated.length >= 5, 'the Megatron parallelism keys');
  for (const d of gated) {
    assert.equal(d.severity, DiagnosticSeverity.Information);
    assert.match(String(d.message), /USE_MCA=1` or `USE_MEGATRON_BRIDGE=1/);
  }
  assert.equal(diagnostics.filter((d) => d.code === 'lf-unknown-key').length, 0);
});
