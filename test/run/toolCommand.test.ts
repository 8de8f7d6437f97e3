import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildToolCommand } from '../../server/src/runs/tools/command';

test('axolotl: train FILE from the config folder; several GPUs through torchrun', () => {
  const one = buildToolCommand('axolotl', '/w/cfg/lora.yml', 1, '/venv/bin/axolotl', { PATH: '/bin' });
  assert.deepEqual([one.command, one.args, one.cwd], ['/venv/bin/axolotl', ['train', '/w/cfg/lora.yml'], '/w/cfg']);
  assert.equal(one.env.PYTHONUNBUFFERED, '1');
  assert.deepEqual(buildToolCommand('axolotl', '/w/cfg/lora.yml', 4, 'axolotl', {}).args, [
    'train',
    '/w/cfg/lora.yml',
    '--launcher',
    'torchrun',
    '--',
    '--nproc_per_node=4',
  ]);
});

test('LLaMA-Factory: llamafactory-cli train FILE; several GPUs through its own FORCE_TORCHRUN / NPROC_PER_NODE', () => {
  const one = buildToolCommand('llama-factory', 'cfg/sft.yaml', 1, 'llamafactory-cli', {});
  assert.deepEqual(one.args.slice(0, 1), ['train']);
  assert.equal(one.env.FORCE_TORCHRUN, undefined);
  const two = buildToolCommand('llama-factory', '/w/sft.yaml', 2, 'llamafactory-cli', { FORCE_TORCHRUN: undefined });
  assert.deepEqual([two.env.FORCE_TORCHRUN, two.env.NPROC_PER_NODE, two.args], ['1', '2', ['train', '/w/sft.yaml']]);
});

test('LLaMA-Factory with DeepSpeed on one GPU: torchrun all the same (its parser stops without FORCE_TORCHRUN)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lf-ds-'));
  try {
    const withDs = join(dir, 'ds.yaml');
    writeFileSync(withDs, 'model_name_or_path: org/m\nstage: sft\ndo_train: true\ndeepspeed: ds_z2.json\n');
    const plain = join(dir, 'plain.yaml');
    writeFileSync(plain, 'model_name_or_path: org/m\nstage: sft\ndo_train: true\n');
    const ds = buildToolCommand('llama-factory', withDs, 1, 'llamafactory-cli', {});
    assert.deepEqual([ds.env.FORCE_TORCHRUN, ds.env.NPROC_PER_NODE], ['1', '1']);
    assert.equal(buildToolCommand('llama-factory', plain, 1, 'llamafactory-cli', {}).env.FORCE_TORCHRUN, undefined);
    // An unreadable config keeps the plain launch: the tool reports the file itself.
    const missing = buildToolCommand('llama-factory', join(dir, 'missing.yaml'), 1, 'llamafactory-cli', {});
    assert.equal(missing.env.FORCE_TORCHRUN, undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
