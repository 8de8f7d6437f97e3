import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { detectDialect, SNIFF_BYTES } from '../../server/src/core/dialects';
import { corpusFiles, llamaFactoryKind } from './corpusFiles';

const AXOLOTL = 'base_model: NousResearch/Llama-3.2-1B\nadapter: lora\nmicro_batch_size: 2\n';
const LF_TRAIN = 'model_name_or_path: Qwen/Qwen3-4B\nstage: sft\ndo_train: true\nfinetuning_type: lora\n';
const OURS = 'model: Qwen/Qwen2.5-7B-Instruct\nmethod: lora\ndata:\n  train: data/train.jsonl\n';

test('each dialect is recognised by its top-level keys', () => {
  assert.deepEqual(detectDialect(AXOLOTL, 'a.yml'), { dialect: 'axolotl', source: 'keys' });
  assert.deepEqual(detectDialect(LF_TRAIN, 'a.yaml'), { dialect: 'llama-factory', subKind: 'train', source: 'keys' });
  assert.deepEqual(detectDialect(OURS, 'a.yaml'), { dialect: 'lora-lens', source: 'keys' });
  assert.deepEqual(detectDialect('name: x\nversion: 2\n', 'a.yaml'), { dialect: null, source: 'none' });
});

test('base_model alone, or model_name_or_path alone, is not enough', () => {
  assert.equal(detectDialect('base_model: x\nfoo: 1\n', null).dialect, null);
  assert.equal(detectDialect('model_name_or_path: x\nfoo: 1\n', null).dialect, null);
});

test('LLaMA-Factory sub-kind: do_train/stage train, export_dir export, otherwise inference', () => {
  assert.equal(
    detectDialect('model_name_or_path: x\nexport_dir: out\nfinetuning_type: lora\n', null).subKind,
    'export',
  );
  assert.equal(
    detectDialect('model_name_or_path: x\ntemplate: qwen3\ninfer_backend: vllm\n', null).subKind,
    'inference',
  );
  assert.equal(detectDialect('model_name_or_path: x\nstage: sft\nexport_dir: out\n', null).subKind, 'train');
});

test('a first-line modeline overrides the keys, and a bad one says which names exist', () => {
  assert.deepEqual(detectDialect(`# lora-lens: dialect=axolotl\n${LF_TRAIN}`, null), {
    dialect: 'axolotl',
    source: 'modeline',
  });
  assert.deepEqual(detectDialect(`#lora-lens:dialect=llama-factory\n${AXOLOTL}`, null), {
    dialect: 'llama-factory',
    subKind: 'inference',
    source: 'modeline',
  });
  const bad = detectDialect(`# lora-lens: dialect=torchtune\n${AXOLOTL}`, null);
  assert.equal(bad.dialect, null);
  assert.match(bad.notChecked!, /`axolotl`, `llama-factory`/);
  assert.equal(
    detectDialect(`${AXOLOTL}# lora-lens: dialect=llama-factory\n`, null).dialect,
    'axolotl',
    'only the first line is a modeline',
  );
});

test('the dialects setting maps globs to dialects, after the modeline and before the keys', () => {
  const settings = { dialects: { 'configs/**/*.yaml': 'llama-factory' as const, '*.yml': 'axolotl' as const } };
  assert.deepEqual(detectDialect(AXOLOTL, '/work/configs/x/run.yaml', settings), {
    dialect: 'llama-factory',
    subKind: 'inference',
    source: 'setting',
  });
  assert.deepEqual(detectDialect(LF_TRAIN, 'C:\\work\\run.yml', settings), { dialect: 'axolotl', source: 'setting' });
  assert.deepEqual(detectDialect(`# lora-lens: dialect=lora-lens\n${AXOLOTL}`, '/work/configs/x/run.yaml', settings), {
    dialect: 'lora-lens',
    source: 'modeline',
  });
  assert.equal(detectDialect(AXOLOTL, '/work/other/run.yaml', settings).source, 'keys');
});

test('our file names still claim a file whose keys match nothing', () => {
  assert.deepEqual(detectDialect('model: x\n', '/w/run.finetune.yaml'), { dialect: 'lora-lens', source: 'file-name' });
});

test('torchtune recipes, LLaMA-Factory v1, accelerate and DeepSpeed configs are recognised and not checked', () => {
  const torchtune = detectDialect(
    'model:\n  _component_: torchtune.models.llama3_2.lora_llama3_2_1b\n  lora_rank: 8\nbatch_size: 4\n',
    null,
  );
  assert.equal(torchtune.dialect, null);
  assert.match(torchtune.notChecked!, /torchtune/);
  assert.match(detectDialect('optimizer: {_component_: torch.optim.AdamW, lr: 2e-5}\n', null).notChecked!, /torchtune/);
  assert.match(detectDialect('model: Qwen/Qwen3-4B\npeft_config:\n  name: lora\n', null).notChecked!, /v1 dialect/);
  assert.match(
    detectDialect('compute_environment: LOCAL_MACHINE\ndistributed_type: FSDP\n', null).notChecked!,
    /accelerate/,
  );
  assert.match(
    detectDialect('{"zero_optimization": {"stage": 3}, "train_micro_batch_size_per_gpu": "auto"}', 'ds_z3.json')
      .notChecked!,
    /DeepSpeed/,
  );
});

test('a LLaMA-Factory evaluation config is recognised and not checked', () => {
  const match = detectDialect('model_name_or_path: x\ntemplate: llama3\ntask: mmlu_test\nn_shot: 5\nlang: en\n', null);
  assert.equal(match.dialect, null);
  assert.match(match.notChecked!, /llamafactory-cli eval/);
});

test('a file with two signatures is not claimed by either', () => {
  const both = detectDialect('base_model: x\nadapter: lora\nmodel_name_or_path: y\nstage: sft\n', null);
  assert.equal(both.dialect, null);
  assert.match(both.notChecked!, /axolotl and llama-factory/);
  assert.match(
    detectDialect('base_model: x\nadapter: lora\nmodel:\n  _component_: a.b\n', null).notChecked!,
    /axolotl and torchtune/,
  );
});

test('quoted and commented inline values are read as their text', () => {
  assert.equal(detectDialect('model: x\nmethod: "lora" # ours\n', null).dialect, 'lora-lens');
  assert.equal(detectDialect("model: x\nmethod: 'qlora'\n", null).dialect, 'lora-lens');
});

test('JSON configs are sketched by their top-level keys', () => {
  assert.deepEqual(detectDialect('{"base_model": "x", "micro_batch_size": 1}', 'a.json'), {
    dialect: 'axolotl',
    source: 'keys',
  });
});

test('the cheap look reads quoted keys and ignores comments, indentation and list items', () => {
  const text = '# comment\n"base_model": x # trailing\ndatasets:\n  - path: a\n    adapter: lora\n';
  assert.equal(detectDialect(text, null).dialect, 'axolotl');
  assert.equal(
    detectDialect('base_model: x\nfoo:\n  datasets: []\n', null).dialect,
    null,
    'a nested key is not a top-level key',
  );
});

test('the cheap look stops at 64 KB', () => {
  const padding = `# ${'x'.repeat(78)}\n`.repeat(Math.ceil(SNIFF_BYTES / 81) + 1);
  assert.equal(detectDialect(`${padding}${AXOLOTL}`, null).dialect, null);
  assert.equal(
    detectDialect(parseConfigDocument(`${padding}${AXOLOTL}`), null).dialect,
    'axolotl',
    'the parsed document sees every key',
  );
});

test('every corpus file is recognised as its dialect, none by two, and the cheap look agrees with the parse', () => {
  const seen = { axolotl: 0, lfTrain: 0, lfInference: 0, lfExport: 0, notChecked: 0 };
  for (const file of [...corpusFiles('axolotl'), ...corpusFiles('llama-factory'), ...corpusFiles('torchtune')]) {
    const cheap = detectDialect(file.text, file.path);
    const full = detectDialect(parseConfigDocument(file.text), file.path);
    assert.deepEqual({ ...cheap, notChecked: !!cheap.notChecked }, { ...full, notChecked: !!full.notChecked }, file.id);
    if (file.tool === 'axolotl') {
      assert.deepEqual(full, { dialect: 'axolotl', source: 'keys' }, file.id);
      seen.axolotl++;
    } else if (file.tool === 'torchtune') {
      assert.equal(full.dialect, null, file.id);
      assert.match(full.notChecked ?? '', /torchtune/, file.id);
      seen.notChecked++;
    } else {
      const kind = llamaFactoryKind(file.name);
      if (kind === 'v1' || kind === 'accelerate') {
        assert.equal(full.dialect, null, file.id);
        assert.match(full.notChecked ?? '', kind === 'v1' ? /v1 dialect/ : /accelerate/, file.id);
        seen.notChecked++;
      } else {
        assert.deepEqual(full, { dialect: 'llama-factory', subKind: kind, source: 'keys' }, file.id);
        if (kind === 'train') seen.lfTrain++;
        else if (kind === 'inference') seen.lfInference++;
        else seen.lfExport++;
      }
    }
  }
  assert.deepEqual(seen, { axolotl: 145, lfTrain: 33, lfInference: 4, lfExport: 2, notChecked: 25 + 19 });
});
