import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gpuFromSetting, lookupGpuName, parseMemorySize } from '../../server/src/core/gpu';
import { detectGpus, parseNvidiaSmi } from '../../server/src/runs/gpuDetect';

const GiB = 2 ** 30;

test('parses nvidia-smi CSV, several GPUs', () => {
  const out = 'NVIDIA H100 80GB HBM3, 81559, 512\nNVIDIA GeForce RTX 4090, 24564, 1200\n\n';
  const gpus = parseNvidiaSmi(out);
  assert.equal(gpus.length, 2);
  assert.equal(gpus[0]!.memoryBytes, 81559 * 2 ** 20);
  assert.equal(gpus[0]!.usedBytes, 512 * 2 ** 20);
  assert.equal(gpus[0]!.computeCapability, '9.0');
  assert.equal(gpus[1]!.computeCapability, '8.9');
  assert.deepEqual(
    parseNvidiaSmi('NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.'),
    [],
  );
  assert.deepEqual(parseNvidiaSmi('Tesla T4, [N/A], 0'), []);
});

test('memory sizes', () => {
  assert.equal(parseMemorySize('24GiB'), 24 * GiB);
  assert.equal(parseMemorySize('24 GB'), 24 * GiB);
  assert.equal(parseMemorySize('80G'), 80 * GiB);
  assert.equal(parseMemorySize('24576MiB'), 24 * GiB);
  assert.equal(parseMemorySize('RTX 4090'), null);
});

test('GPU names: fuzzy but unambiguous', () => {
  const name = (s: string) => {
    const r = lookupGpuName(s);
    return r.ok ? r.gpu.name : `ERR ${r.message}`;
  };
  assert.equal(name('RTX 4090'), 'RTX 4090');
  assert.equal(name('NVIDIA GeForce RTX 4090'), 'RTX 4090');
  assert.equal(name('h100-80gb'), 'H100 80GB');
  assert.equal(name('NVIDIA H100 80GB HBM3'), 'H100 80GB');
  assert.equal(name('A100-40GB'), 'A100 40GB');
  assert.equal(name('NVIDIA A100-SXM4-80GB'), 'A100 80GB');
  assert.equal(name('A10G'), 'A10G');
  assert.equal(name('Tesla T4'), 'T4');
  assert.equal(name('L40S'), 'L40S');
  assert.match(name('A100'), /ambiguous/);
  assert.match(name('V100'), /ambiguous/);
  assert.match(name('Voodoo 5'), /unknown GPU/);
  const t4 = lookupGpuName('T4');
  assert.ok(t4.ok && !t4.gpu.bf16);
});

test('settings take a name or a size', () => {
  const s = gpuFromSetting('24GiB');
  assert.ok(s.ok && s.gpu.memoryBytes === 24 * GiB);
  assert.ok(gpuFromSetting('RTX 3060').ok);
});

test('detection: parsed output, and "no GPU detected" when nvidia-smi is absent', async () => {
  let seenArgs: string[] = [];
  const ok = await detectGpus({
    run: async (_cmd, args) => {
      seenArgs = args;
      return 'NVIDIA L4, 23034, 0\n';
    },
  });
  assert.deepEqual(seenArgs, ['--query-gpu=name,memory.total,memory.used', '--format=csv,noheader,nounits']);
  assert.ok(ok.ok && ok.gpus[0]!.name === 'NVIDIA L4');
  const none = await detectGpus({
    run: async () => {
      throw new Error('ENOENT');
    },
  });
  assert.equal(none.ok, false);
  assert.match(!none.ok ? none.message : '', /no GPU detected/);
});
