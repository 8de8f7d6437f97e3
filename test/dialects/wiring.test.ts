/**
 * The wiring of axolotl and LLaMA-Factory files end to end: every corpus file through analyzeConfig (the editor's
 * and the CLI's one analysis) and through the built CLI, and mutations that make the pitfall rules fire on the
 * dialect's own keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiagnosticSeverity, type Diagnostic } from 'vscode-languageserver-types';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { analyzeConfig, type Analysis } from '../../server/src/core/analysis/analyze';
import { analyzeForCli } from '../../server/src/cli/analysisEnvironment';
import { resolveModel } from '../../server/src/core/models';
import { runCli } from '../helpers/cli';
import { claimsDocument } from '../../server/src/core/analysis/claim';
import { readSettings } from '../../server/src/protocol/settings';
import { doComplete } from '../../server/src/core/analysis/completion';
import { doHover } from '../../server/src/core/analysis/hover';
import { getMemoryInlayHints } from '../../server/src/lsp/memoryFeatures';
import { CORPUS_DIR, corpusFiles, type CorpusFile } from './corpusFiles';

interface Listed {
  file: string;
  line: number;
  code: string;
  reason: string;
}
const expected = JSON.parse(readFileSync(join(CORPUS_DIR, 'expected-errors.json'), 'utf8')) as {
  errors: Listed[];
  analysis: { errors: Listed[] };
};
const EXPECTED_ERRORS = [...expected.errors, ...expected.analysis.errors]
  .map((e) => `${e.file}:${e.line} ${e.code}`)
  .sort();

/** No HF cache, no GPU, no Hub: what resolves here resolves on any machine. */
const HOME = mkdtempSync(join(tmpdir(), 'lora-lens-wiring-'));
const ENV = { HOME, HF_HOME: join(HOME, 'hf'), HF_HUB_OFFLINE: '1' };

function analyze(text: string, path: string): Analysis {
  return analyzeConfig({
    doc: parseConfigDocument(text),
    configPath: path,
    environment: { platform: 'linux', env: ENV, fallbackGpu: null },
  });
}

const analysed = new Map<string, Analysis>();
function analysisOf(file: CorpusFile): Analysis {
  let found = analysed.get(file.id);
  if (!found) analysed.set(file.id, (found = analyze(file.text, file.path)));
  return found;
}

const TOOL_FILES = [...corpusFiles('axolotl'), ...corpusFiles('llama-factory')];
const errorsOf = (file: CorpusFile, diagnostics: Diagnostic[]) =>
  diagnostics
    .filter((d) => d.severity === DiagnosticSeverity.Error)
    .map((d) => `${file.id}:${d.range.start.line + 1} ${String(d.code)}`);

test('every axolotl and LLaMA-Factory corpus file is recognised and gets no error the tool would not raise', () => {
  const found: string[] = [];
  for (const file of TOOL_FILES) {
    const analysis = analysisOf(file);
    const notChecked =
      file.tool === 'llama-factory' && (file.name.startsWith('examples__v1__') || file.name.includes('__accelerate__'));
    if (notChecked) {
      assert.ok(analysis.dialect.notChecked, file.id);
      assert.deepEqual(analysis.diagnostics, [], file.id);
      continue;
    }
    assert.equal(analysis.dialect.dialect, file.tool, file.id);
    found.push(...errorsOf(file, analysis.diagnostics));
  }
  assert.deepEqual(found.sort(), EXPECTED_ERRORS);
  for (const entry of expected.analysis.errors) assert.ok(entry.reason.length > 20, `${entry.file}: give the reason`);
});

test('the pitfall rules run on the corpus plans: their findings sit on dialect keys and are labelled as ours', () => {
  let ruleFindings = 0;
  for (const file of TOOL_FILES) {
    const lines = file.text.split('\n');
    for (const d of analysisOf(file).diagnostics) {
      const data = d.data as { rule?: string; fixes?: Array<{ edits: Array<{ path: unknown[] }> }> } | undefined;
      if (!data?.rule || data.rule === 'unknown-rule-id') continue;
      ruleFindings++;
      // The message leads with the problem (issue 27 item 7); that the tool accepts it is the data's toolAccepts.
      assert.doesNotMatch(String(d.message), /^LoRA Lens/, `${file.id}: ${String(d.message)}`);
      if (!['dataset', 'memory-no-fit', 'model-unknown', 'gpu-unknown'].includes(data.rule))
        assert.match(
          String((d.data as { toolAccepts?: string }).toolAccepts),
          /^(axolotl|LLaMA-Factory)$/,
          `${file.id}: ${String(d.code)}`,
        );
      assert.ok(d.range.start.line >= 0 && d.range.start.line < lines.length, file.id);
      // Only a failure of the run itself (a data file that is not there, out of memory) stays an error.
      if (!['dataset', 'memory-no-fit'].includes(data.rule))
        assert.notEqual(
          d.severity,
          DiagnosticSeverity.Error,
          `${file.id}: our advice is not the tool's error (${String(d.code)})`,
        );
      for (const fix of data.fixes ?? []) {
        for (const edit of fix.edits)
          assert.ok(
            !['training', 'lora', 'data', 'quantization', 'output', 'model'].includes(String(edit.path[0])),
            `${file.id}: ${String(d.code)} edits ${edit.path.join('.')}, a plan path`,
          );
      }
    }
  }
  assert.ok(ruleFindings > 300, `the rules fired ${ruleFindings} times`);
});

test('an estimate for every corpus training file whose model resolves offline', () => {
  let resolvable = 0;
  for (const file of TOOL_FILES) {
    const analysis = analysisOf(file);
    if (!analysis.plan) continue;
    const model = resolveModel(analysis.plan.model, { configDir: CORPUS_DIR, env: ENV });
    if (!model.ok) {
      assert.equal(analysis.estimate, undefined);
      assert.equal(
        analysis.diagnostics.filter((d) => d.code === 'model-unknown').length,
        1,
        `${file.id}: says once why the model is unknown`,
      );
      continue;
    }
    resolvable++;
    assert.ok(
      analysis.estimate && Number.isFinite(analysis.estimate.peakBytes) && analysis.estimate.peakBytes > 0,
      file.id,
    );
  }
  assert.ok(resolvable >= 74, `${resolvable} files with an estimate (58 axolotl + 16 LLaMA-Factory measured)`);
});

test('torchtune recipes get no diagnostics and no plan', () => {
  for (const file of corpusFiles('torchtune')) {
    const analysis = analysisOf(file);
    assert.equal(analysis.dialect.dialect, null, file.id);
    assert.deepEqual(analysis.diagnostics, [], file.id);
    assert.equal(analysis.plan, null);
  }
});

test('lora-lens check --format json over the corpus: the dialect of each file, errors only where expected', () => {
  const files = [...TOOL_FILES, ...corpusFiles('torchtune')];
  const result = runCli(['check', '--format', 'json', ...files.map((f) => f.path)], {
    env: { ...process.env, ...ENV },
    timeoutMs: 120_000,
  });
  const report = JSON.parse(result.stdout) as {
    files: Array<{
      file: string;
      dialect: string | null;
      diagnostics: Array<{ line: number; severity: string; code: string }>;
    }>;
  };
  assert.equal(report.files.length, files.length);
  const found: string[] = [];
  report.files.forEach((entry, i) => {
    const file = files[i]!;
    assert.equal(entry.dialect, analysisOf(file).dialect.dialect, file.id);
    if (file.tool === 'torchtune') assert.deepEqual(entry.diagnostics, [], file.id);
    for (const d of entry.diagnostics) if (d.severity === 'error') found.push(`${file.id}:${d.line} ${d.code}`);
  });
  assert.deepEqual(found.sort(), EXPECTED_ERRORS);
  assert.equal(result.code, 1, 'the listed tool errors fail the check');
  const text = runCli(['check', files.find((f) => f.tool === 'llama-factory' && f.name.includes('loraplus'))!.path], {
    env: { ...process.env, ...ENV },
  });
  assert.match(text.stdout, /: LLaMA-Factory config \(train\)\n/);
});

/** A corpus file with some lines replaced, analysed as the editor does. */
function mutated(
  tool: 'axolotl' | 'llama-factory',
  name: string,
  edit?: (text: string) => string,
): { text: string; analysis: Analysis; lineOf: (prefix: string) => number } {
  const file = corpusFiles(tool).find((f) => f.name === name)!;
  const text = edit ? edit(file.text) : file.text;
  if (edit) assert.notEqual(text, file.text, 'the mutation changed the file');
  const analysis = analyze(text, file.path);
  return { text, analysis, lineOf: (prefix) => text.split('\n').findIndex((l) => l.startsWith(prefix)) };
}

const only = (analysis: Analysis, code: string, about?: RegExp): Diagnostic => {
  const found = analysis.diagnostics.filter((d) => d.code === code && (!about || about.test(String(d.message))));
  assert.equal(found.length, 1, `${code}: ${found.map((d) => String(d.message)).join(' | ')}`);
  return found[0]!;
};
const fixesOf = (d: Diagnostic) =>
  (d.data as { fixes: Array<{ title: string; edits: Array<{ kind: string; path: unknown[]; value?: unknown }> }> })
    .fixes;

test('axolotl: a learning rate wrong for the method is flagged on learning_rate, fixed there', () => {
  const m = mutated('axolotl', 'examples__archived__openllama-3b__lora.yml', (t) =>
    t.replace('learning_rate: 0.0002', 'learning_rate: 0.00001'),
  );
  const d = only(m.analysis, 'lr-range');
  assert.equal(d.range.start.line, m.lineOf('learning_rate:'));
  assert.match(String(d.message), /^learning_rate 1e-5 is below the usual 1e-4 to 3e-4 for lora/);
  assert.deepEqual(fixesOf(d)[0]!.edits, [{ kind: 'set', path: ['learning_rate'], value: 2e-4 }]);
});

test('axolotl: the effective batch names micro_batch_size × gradient_accumulation_steps and fixes the accumulation', () => {
  const m = mutated('axolotl', 'examples__archived__openllama-3b__lora.yml');
  const d = only(m.analysis, 'effective-batch');
  assert.equal(d.range.start.line, m.lineOf('gradient_accumulation_steps:'));
  assert.match(
    String(d.message),
    /Effective batch 2 × 1 = 2 \(micro_batch_size × gradient_accumulation_steps\) is below 4.*Raise gradient_accumulation_steps to 8/,
  );
  assert.deepEqual(fixesOf(d)[0], {
    title: 'Set gradient_accumulation_steps: 8 (effective batch 16)',
    edits: [{ kind: 'set', path: ['gradient_accumulation_steps'], value: 8 }],
    isPreferred: true,
  });
});

test("axolotl: a misspelled key and a wrong type are the tool's findings at the key; no rule repeats them there", () => {
  const m = mutated('axolotl', 'examples__archived__openllama-3b__lora.yml', (t) =>
    t.replace('num_epochs: 4', 'num_epoch: 4').replace('micro_batch_size: 2', 'micro_batch_size: two'),
  );
  const unknown = only(m.analysis, 'axolotl-unknown-key', /`num_epoch`/);
  assert.equal(unknown.range.start.line, m.lineOf('num_epoch:'));
  assert.match(String(unknown.message), /Did you mean `num_epochs`\?/);
  const type = only(m.analysis, 'axolotl-type');
  assert.equal(type.range.start.line, m.lineOf('micro_batch_size:'));
  assert.deepEqual(
    m.analysis.diagnostics.filter((d) => d.range.start.line === type.range.start.line).map((d) => d.code),
    ['axolotl-type'],
  );
});

test('axolotl: a rank too large for the data is flagged on lora_r, the fix edits lora_r and lora_alpha', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lora-lens-rank-'));
  writeFileSync(
    join(dir, 'train.jsonl'),
    Array.from({ length: 40 }, (_, i) => JSON.stringify({ instruction: `q${i}`, output: `a${i}` })).join('\n') + '\n',
  );
  const file = corpusFiles('axolotl').find((f) => f.name === 'examples__archived__openllama-3b__lora.yml')!;
  const text = file.text
    .replace('lora_r: 8', 'lora_r: 256')
    .replace('lora_alpha: 16', 'lora_alpha: 512')
    .replace('path: teknium/GPT4-LLM-Cleaned', 'path: train.jsonl\n    ds_type: json');
  const path = join(dir, 'config.yml');
  writeFileSync(path, text);
  const analysis = await analyzeForCli(text, path, { gpu: '24GiB' });
  const d = only(analysis, 'rank-vs-data');
  assert.equal(
    d.range.start.line,
    text.split('\n').findIndex((l) => l.startsWith('lora_r:')),
  );
  assert.match(String(d.message), /LoRA rank lora_r=256 is large for 40 training rows.*use lora_r=8, lora_alpha=16/);
  assert.deepEqual(fixesOf(d)[0]!.edits, [
    { kind: 'set', path: ['lora_r'], value: 8 },
    { kind: 'set', path: ['lora_alpha'], value: 16 },
  ]);
});

test('LLaMA-Factory: lora_alpha against lora_rank, on its keys', () => {
  const m = mutated('llama-factory', 'examples__extras__loraplus__llama3_lora_sft.yaml', (t) =>
    t.replace('lora_rank: 8', 'lora_rank: 8\nlora_alpha: 64'),
  );
  const d = only(m.analysis, 'alpha-ratio');
  assert.equal(d.range.start.line, m.lineOf('lora_alpha:'));
  assert.match(String(d.message), /^lora_alpha \/ lora_rank = 64 \/ 8/);
  assert.deepEqual(fixesOf(d)[0]!.edits, [{ kind: 'set', path: ['lora_alpha'], value: 16 }]);
});

test('LLaMA-Factory: a full-fine-tuning learning rate on a LoRA run is flagged on learning_rate', () => {
  const m = mutated('llama-factory', 'examples__extras__loraplus__llama3_lora_sft.yaml', (t) =>
    t.replace('learning_rate: 1.0e-4', 'learning_rate: 1.0e-5'),
  );
  const d = only(m.analysis, 'lr-range');
  assert.equal(d.range.start.line, m.lineOf('learning_rate:'));
  assert.deepEqual(fixesOf(d)[0]!.edits, [{ kind: 'set', path: ['learning_rate'], value: 2e-4 }]);
});

test('a finding about a plan field the dialect has no key for is dropped', () => {
  // hardware.gpu has no axolotl key: a gpu-unknown finding could point at nothing the user wrote.
  const m = mutated('axolotl', 'examples__archived__openllama-3b__lora.yml');
  assert.equal(m.analysis.sources?.['hardware.gpu']?.docPath ?? null, null);
  assert.ok(!m.analysis.diagnostics.some((d) => d.code === 'gpu-unknown'));
});

test('lora-lens convert writes <name>.finetune.yaml beside the file, lists what was not carried, never overwrites without --force', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lora-lens-convert-'));
  const file = corpusFiles('axolotl').find((f) => f.name === 'examples__archived__openllama-3b__lora.yml')!;
  const path = join(dir, 'lora.yml');
  writeFileSync(path, file.text);
  const first = runCli(['convert', path], { env: { ...process.env, ...ENV } });
  assert.equal(first.code, 0, first.stderr);
  const out = join(dir, 'lora.finetune.yaml');
  assert.ok(existsSync(out));
  assert.match(first.stdout, /\(axolotl\) -> .*lora\.finetune\.yaml\nNot carried over \(\d+ keys\):\n {2}\S+: /);
  const converted = analyze(readFileSync(out, 'utf8'), out);
  assert.equal(converted.dialect.dialect, 'lora-lens');
  assert.equal(converted.plan?.model.name_or_path, 'openlm-research/open_llama_3b_v2');
  assert.equal(converted.plan?.lora?.r, 8);
  const again = runCli(['convert', path], { env: { ...process.env, ...ENV } });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /lora\.finetune\.yaml exists; pass --force to replace it\.\n$/);
  assert.equal(runCli(['convert', path, '--force'], { env: { ...process.env, ...ENV } }).code, 0);
  const torchtune = corpusFiles('torchtune')[0]!;
  const refused = runCli(['convert', torchtune.path], { env: { ...process.env, ...ENV } });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /torchtune.*Nothing to convert\.\n$/);
});

test('the inlay hint sits on base_model; under FSDP/DeepSpeed it says plainly it is the single-GPU, unsharded figure', () => {
  const file = corpusFiles('axolotl').find((f) => f.name === 'examples__alst__llama3-8b-fsdp2-alst.yaml')!;
  const analysis = analysisOf(file);
  assert.notEqual(analysis.plan?.hardware.distributed, 'none');
  const hints = getMemoryInlayHints(parseConfigDocument(file.text), analysis);
  assert.equal(hints.length, 1);
  assert.equal(
    hints[0]!.position.line,
    file.text.split('\n').findIndex((l) => l.startsWith('base_model:')),
  );
  assert.match(String(hints[0]!.label), /^≈ .* · single GPU, unsharded$/);
  const plain = analysisOf(
    corpusFiles('axolotl').find((f) => f.name === 'examples__archived__openllama-3b__lora.yml')!,
  );
  assert.equal(plain.plan?.hardware.distributed, 'none');
  assert.doesNotMatch(String(getMemoryInlayHints(parseConfigDocument(''), plain)[0]?.label ?? ''), /unsharded/);
});

test('claimsDocument: ours by name or modeline, a dialect by its keys or the loraLens.dialects glob; other YAML and JSON not', () => {
  const none = { files: [], dialects: {} };
  assert.equal(claimsDocument('/w/a.finetune.yaml', 'x: 1\n', none), true);
  assert.equal(claimsDocument('/w/qlora.yml', 'base_model: x/y\nadapter: qlora\n', none), true);
  assert.equal(claimsDocument('/w/sft.yaml', 'model_name_or_path: x/y\nstage: sft\n', none), true);
  assert.equal(claimsDocument('/w/compose.yaml', 'services:\n  web: {}\n', none), false);
  assert.equal(claimsDocument('/w/recipe.yaml', 'model:\n  _component_: torchtune.models.x\n', none), false);
  assert.equal(claimsDocument('/w/pkg.json', '{"base_model": "x/y", "adapter": "lora"}', none), false);
  assert.equal(
    claimsDocument('/w/cfg/odd.yaml', 'x: 1\n', { files: [], dialects: { '**/cfg/*.yaml': 'axolotl' } }),
    true,
  );
  const settings = readSettings({ dialects: { 'a/**': 'axolotl', 'b/**': 'torchtune' }, hub: false });
  assert.deepEqual(settings.dialects, { 'a/**': 'axolotl' }, 'a dialect LoRA Lens does not know claims nothing');
  assert.equal(settings.hub, false);
  assert.equal(readSettings({}).hub, true);
});

test("dialect completion offers the keys not yet written and a key's values from the dialect schema", () => {
  const doc = parseConfigDocument('base_model: x/y\ngradient_checkpointing: \nlora_r: 8\n');
  const values = doComplete(doc, { line: 1, character: 24 }, { dialect: 'axolotl' }).map((i) => i.label);
  assert.ok(values.includes('offload') && values.includes('true'), values.join(', '));
  const keys = doComplete(
    parseConfigDocument('base_model: x/y\nlora_r: 8\nlo'),
    { line: 2, character: 2 },
    { dialect: 'axolotl' },
  ).map((i) => i.label);
  assert.ok(keys.includes('lora_alpha'));
  assert.ok(!keys.includes('lora_r'));
  assert.equal(doHover(doc, { line: 2, character: 1 }, 'axolotl') !== null, true);
  assert.equal(doHover(parseConfigDocument('no_such_key: 1\n'), { line: 0, character: 1 }, 'axolotl'), null);
});

test('rule messages on a dialect file rename keys, not English words ("a base model", never "a base base_model")', () => {
  const text =
    'base_model: Qwen/Qwen2.5-0.5B\nadapter: lora\nlora_r: 16\nlora_alpha: 32\nlora_target_linear: true\ndatasets:\n  - path: tatsu-lab/alpaca\n    type: chat_template\n' +
    'sequence_len: 1024\nmicro_batch_size: 2\nnum_epochs: 1\nlearning_rate: 0.0002\n';
  const [d] = analyze(text, join(HOME, 'base.yaml')).diagnostics.filter((x) => x.code === 'chat-template');
  assert.match(String(d!.message), /Qwen\/Qwen2\.5-0\.5B is a base model: its tokenizer has no chat template/);
});
