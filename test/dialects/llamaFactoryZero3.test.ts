// LLaMA-Factory's ZeRO-3 stops (parser.py at ff6d4d1): a train file whose `deepspeed` JSON sets stage 3 and a key
// that ZeRO-3 refuses gets the parser's error; stage 2, no key, an inline stage-3 object and an unreadable file are
// each checked the way they read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { validateDialect } from '../../server/src/core/dialects';

const BASE = [
  'model_name_or_path: org/model',
  'stage: sft',
  'do_train: true',
  'finetuning_type: lora',
  'dataset: alpaca_en_demo',
  'template: qwen',
  'output_dir: out',
];

function codes(lines: string[], configDir: string): string[] {
  const doc = parseConfigDocument(`${[...BASE, ...lines].join('\n')}\n`);
  return validateDialect(doc, { dialect: 'llama-factory', subKind: 'train', source: 'setting' }, { configDir })
    .map((d) => String(d.code))
    .filter((code) => code.startsWith('lf-zero3-'));
}

test('LLaMA-Factory: keys that ZeRO-3 refuses stop a run whose DeepSpeed JSON sets stage 3', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lf-z3-'));
  try {
    writeFileSync(join(dir, 'ds_z3.json'), JSON.stringify({ zero_optimization: { stage: 3 } }));
    writeFileSync(join(dir, 'ds_z2.json'), JSON.stringify({ zero_optimization: { stage: 2 } }));
    const keys = [
      'predict_with_generate: true',
      'pissa_init: true',
      'pure_bf16: true',
      'use_unsloth: true',
      'use_kt: true',
    ];
    const want = ['lf-zero3-generate', 'lf-zero3-pissa', 'lf-zero3-pure-bf16', 'lf-zero3-unsloth', 'lf-zero3-kt'];
    keys.forEach((line, i) => {
      assert.deepEqual(codes(['deepspeed: ds_z3.json', line], dir), [want[i]], line);
      assert.deepEqual(codes(['deepspeed: ds_z2.json', line], dir), [], `${line} under ZeRO-2`);
      assert.deepEqual(codes([line], dir), [], `${line} without DeepSpeed`);
      assert.deepEqual(codes(['deepspeed: missing.json', line], dir), [], `${line} with an unreadable file`);
    });
    assert.deepEqual(codes(['deepspeed: ds_z3.json', 'pure_bf16: false'], dir), []);
    assert.deepEqual(codes(['deepspeed: {zero_optimization: {stage: 3}}', 'pure_bf16: true'], dir), [
      'lf-zero3-pure-bf16',
    ]);
    const doc = parseConfigDocument(`${[...BASE, 'deepspeed: ds_z3.json', 'use_kt: true'].join('\n')}\n`);
    const found = validateDialect(
      doc,
      { dialect: 'llama-factory', subKind: 'train', source: 'setting' },
      { configDir: dir },
    );
    const message = String(found.find((d) => d.code === 'lf-zero3-kt')!.message);
    assert.match(
      message,
      /"KTransformers is incompatible with DeepSpeed ZeRO-3\." \(parser\.py:536 at .*ds_z3\.json sets/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
