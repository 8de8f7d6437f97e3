/**
 * LoRA Lens's TRL validation against TRL's own parser: each recipe goes through scripts/dialect-facts/check_trl_parse.py
 * (the steps of `trl sft|dpo --config FILE` up to the launch, in a real Python process with the installed trl) and
 * through validateTrl; TRL stops exactly where LoRA Lens reports an error. Needs LORA_LENS_TEST_PYTHON with trl.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { validateTrl } from '../../server/src/core/dialects/trl/validate';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { CORPUS_DIR } from './corpusFiles';

const PYTHON = process.env.LORA_LENS_TEST_PYTHON;
const hasTrl = PYTHON ? spawnSync(PYTHON, ['-c', 'import trl'], { encoding: 'utf8' }).status === 0 : false;
const skip = !PYTHON
  ? 'LORA_LENS_TEST_PYTHON is not set'
  : !hasTrl
    ? `no trl in ${PYTHON} (pip install trl==1.13.0)`
    : false;
const SCRIPT = resolve(__dirname, '..', '..', 'scripts', 'dialect-facts', 'check_trl_parse.py');
const BASE = 'model_name_or_path: Qwen/Qwen2.5-0.5B\ndataset_name: trl-lib/Capybara\n';

/** TRL's verdict on each file of one command. */
function trlVerdicts(command: 'sft' | 'dpo', paths: string[]): Map<string, { ok: boolean; error: string | null }> {
  const run = spawnSync(PYTHON!, [SCRIPT, command, ...paths], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { path: string; ok: boolean; error: string | null });
  return new Map(lines.map((line) => [line.path, line]));
}

const ourErrors = (path: string, command: 'sft' | 'dpo') =>
  validateTrl(parseConfigDocument(readFileSync(path, 'utf8')), command)
    .filter((d) => d.severity === 1)
    .map((d) => String(d.code));

test('TRL accepts every recipe of the corpus, and LoRA Lens finds no error in any', { skip }, () => {
  const dir = join(CORPUS_DIR, 'trl');
  for (const command of ['sft', 'dpo'] as const) {
    const paths = readdirSync(dir)
      .filter((name) => name.startsWith(`${command}_`))
      .map((name) => join(dir, name));
    for (const [path, verdict] of trlVerdicts(command, paths)) {
      assert.ok(verdict.ok, `${path}: TRL says ${verdict.error}`);
      assert.deepEqual(ourErrors(path, command), [], path);
    }
  }
});

test('each planted mistake stops TRL, and LoRA Lens reports it with the matching code', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lora-lens-trl-parse-'));
  const cases: Array<{ name: string; command: 'sft' | 'dpo'; text: string; code: string; trl: RegExp }> = [
    {
      name: 'typo',
      command: 'sft',
      text: `${BASE}learning_rat: 2.0e-5\n`,
      code: 'trl-unknown-key',
      trl: /unrecognized arguments: --learning_rat/,
    },
    {
      name: 'type',
      command: 'sft',
      text: `${BASE}per_device_train_batch_size: eight\n`,
      code: 'trl-type',
      trl: /invalid int value: 'eight'/,
    },
    {
      name: 'other-command',
      command: 'dpo',
      text: `${BASE}beta: 0.1\npacking: true\n`,
      code: 'trl-wrong-command',
      trl: /unrecognized arguments: --packing/,
    },
    {
      name: 'renamed',
      command: 'sft',
      text: `${BASE}max_seq_length: 2048\n`,
      code: 'trl-renamed-key',
      trl: /unrecognized arguments: --max_seq_length/,
    },
    {
      name: 'removed',
      command: 'dpo',
      text: `${BASE}beta: 0.1\nmax_prompt_length: 512\n`,
      code: 'trl-removed-key',
      trl: /unrecognized arguments: --max_prompt_length/,
    },
    {
      name: 'both-bits',
      command: 'sft',
      text: `${BASE}use_peft: true\nload_in_4bit: true\nload_in_8bit: true\n`,
      code: 'trl-quantization-conflict',
      trl: /8 bit and 4 bit/,
    },
  ];
  for (const command of ['sft', 'dpo'] as const) {
    const mine = cases.filter((c) => c.command === command);
    const paths = mine.map((c) => {
      const path = join(dir, `${c.name}.yaml`);
      writeFileSync(path, c.text);
      return path;
    });
    const verdicts = trlVerdicts(command, paths);
    mine.forEach((c, i) => {
      const verdict = verdicts.get(paths[i]!)!;
      assert.equal(verdict.ok, false, `${c.name}: TRL accepted it`);
      assert.match(verdict.error ?? '', c.trl, c.name);
      assert.ok(
        ourErrors(paths[i]!, command).includes(c.code),
        `${c.name}: LoRA Lens reported ${ourErrors(paths[i]!, command).join(', ') || 'nothing'}`,
      );
    });
  }
});

test(
  "a value outside a field's choices gets past TRL's parser (argparse checks choices on the command line only): LoRA Lens says it fails later",
  { skip },
  () => {
    const path = join(mkdtempSync(join(tmpdir(), 'lora-lens-trl-parse-')), 'choice.yaml');
    writeFileSync(path, `${BASE}packing_strategy: ffd\n`);
    assert.equal(trlVerdicts('sft', [path]).get(path)?.ok, true);
    const enumError = validateTrl(parseConfigDocument(readFileSync(path, 'utf8')), 'sft').find(
      (d) => d.code === 'trl-enum',
    );
    assert.match(
      String(enumError?.message),
      /does not check a config file's value against the choices, so the run starts and fails/,
    );
  },
);
