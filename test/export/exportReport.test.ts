// The export report (the trainer's last stdout line) is a TS<->Python channel: schemas/export-report.schema.json,
// checked by the trainer before printing (trainer/tests/cpu/test_export_target.py) and here after reading. A report
// that does not match is the 'invalid' outcome naming the schema, never a describeExport of "undefined" fields or a
// --verify of the file "undefined".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkExportReport, exportRun } from '../../server/src/runs/export';
import { REPO } from '../helpers/cli';
import { tempDir } from '../run/helpers';

const GGUF = {
  format: 'gguf',
  method: 'qlora',
  architecture: 'llama',
  path: '/r/export/m.q8_0.gguf',
  bytes: 1234,
  quant: 'q8_0',
  tensor_types: ['F32', 'Q8_0'],
  tensors: 21,
  modelfile: '/r/export/Modelfile',
  tokenizer: {
    model: 'gpt2',
    pre: 'qwen2',
    eot_token: '<|im_end|>',
    eot_id: 5,
    stop_tokens: ['<|im_end|>'],
    chat_template: true,
  },
};
const MERGED = {
  format: 'merged',
  method: 'lora',
  architecture: 'LlamaForCausalLM',
  path: '/r/m',
  bytes: 9,
  dtype: 'float32',
  shards: 1,
};

test('complete GGUF and merged reports match; a GGUF one without its Modelfile or with a string size does not', () => {
  assert.deepEqual(checkExportReport(GGUF), { ok: true, report: GGUF });
  assert.deepEqual(checkExportReport(MERGED), { ok: true, report: MERGED });
  const { modelfile: _dropped, ...noModelfile } = GGUF;
  const missing = checkExportReport(noModelfile);
  assert.ok(!missing.ok && /export-report\.schema\.json/.test(missing.message) && /modelfile/.test(missing.message));
  assert.equal(checkExportReport({ ...MERGED, bytes: '9' }).ok, false);
  assert.equal(checkExportReport({ ...MERGED, shards: undefined }).ok, false);
});

test('a trainer whose report does not match is the invalid outcome, naming the schema', async () => {
  const dir = tempDir('lora-lens-export-report-');
  const runDir = join(dir, 'run-1');
  mkdirSync(runDir);
  const plan = JSON.parse(readFileSync(join(REPO, 'trainer/tests/fixtures/plans/lora.plan.json'), 'utf8'));
  writeFileSync(join(runDir, 'plan.json'), JSON.stringify(plan));
  // An interpreter stand-in: an older trainer that printed another report shape (a real child process).
  const python = join(dir, 'python3');
  writeFileSync(python, `#!/bin/sh\necho '{"format": "gguf", "file": "/r/m.gguf"}'\n`);
  chmodSync(python, 0o755);
  const outcome = await exportRun({ python, runDir, format: 'gguf', quant: 'f16' }, { cwd: REPO, trainerRoot: null })
    .done;
  assert.ok(!outcome.ok && outcome.kind === 'invalid', JSON.stringify(outcome));
  assert.match(outcome.message, /does not match schemas\/export-report\.schema\.json/);
});
