// The one doctor (server/src/runs/doctor.ts): the report checked against schemas/doctor.schema.json, the TS type
// against the schema, the findings GPU first, and the real trainer's doctor (with and without torch) read back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  blocksRun,
  doctorFindings,
  doctorValidator,
  formatDoctorReport,
  parseDoctorReport,
  runDoctorCheck,
  type DoctorReport,
  type PackageInfo,
} from '../../server/src/runs/doctor';
import { REPO } from './helpers';

const TRAINER_ROOT = join(REPO, 'trainer');
const NO_TORCH_PYTHON = '/usr/bin/python3';
const TORCH_PYTHON = process.env.LORA_LENS_TEST_PYTHON;

/** Every field of the TS type once: the schema (additionalProperties false) refuses a key it does not declare. */
const FULL: Required<DoctorReport> = {
  python: { version: '3.11.2', executable: '/venv/bin/python' },
  packages: {
    torch: { installed: false, version: null, error: "ModuleNotFoundError: No module named 'torch'" },
    transformers: { installed: false, version: null, error: 'ModuleNotFoundError' },
    peft: { installed: true, version: '0.21.0', error: null },
    safetensors: { installed: true, version: '0.8.0', error: null },
    bitsandbytes: { installed: false, version: null, error: 'ModuleNotFoundError' },
    gguf: { installed: true, version: '0.19.0', error: null },
  },
  required_packages: ['torch', 'transformers', 'peft', 'safetensors'],
  cuda: { available: false, version: null, gpus: [] },
  quantization_backend: 'builtin-nf4',
  tools: {
    axolotl: { installed: true, version: '0.9.2', executable: '/venv/bin/axolotl' },
    'llama-factory': { installed: false, version: null, executable: null },
    trl: { installed: false, version: null, executable: null },
  },
  gpu_count: 0,
};
const withGpu = (report: DoctorReport): DoctorReport => ({
  ...report,
  cuda: {
    available: true,
    version: '12.4',
    gpus: [{ index: 0, name: 'NVIDIA A10', memory_bytes: 24_146_608_128, compute_capability: '8.6', bf16: true }],
  },
});

test('the TS report type and schemas/doctor.schema.json agree: a full report validates, a changed shape does not', () => {
  const validate = doctorValidator();
  assert.equal(validate(FULL), true, JSON.stringify(validate.errors));
  assert.equal(validate(withGpu(FULL)), true, JSON.stringify(validate.errors));
  for (const key of Object.keys(FULL) as (keyof DoctorReport)[]) {
    const { [key]: _dropped, ...rest } = FULL;
    assert.equal(validate(rest), false, `the schema requires ${key}`);
  }
  assert.equal(validate({ ...FULL, extra: 1 }), false);
  assert.equal(
    validate({
      ...FULL,
      cuda: { ...withGpu(FULL).cuda, gpus: [{ ...withGpu(FULL).cuda.gpus[0]!, memory_bytes: 1.5 }] },
    }),
    false,
    'bytes are integers',
  );
  assert.deepEqual(parseDoctorReport('Traceback (most recent call last):').ok, false);
});

test('gguf (issue 26): its version when installed, else the install command for lora-lens export', () => {
  const packages = (gguf: PackageInfo) => ({ ...FULL, packages: { ...FULL.packages, gguf } });
  const present = formatDoctorReport(packages({ installed: true, version: '0.19.0', error: null }), []);
  assert.match(present, /^ {2}ok {7}gguf 0\.19\.0$/m);
  const absent = formatDoctorReport(
    packages({ installed: false, version: null, error: "ModuleNotFoundError: No module named 'gguf'" }),
    [],
  );
  assert.ok(
    absent.includes(
      '  absent   gguf (optional: lora-lens export --format gguf writes with it: /venv/bin/python -m pip install gguf==0.19.0)',
    ),
    absent,
  );
  assert.equal(doctorValidator()(packages({ installed: true, version: 19 } as never)), false);
});

test('no NVIDIA GPU comes first, before any advice to install gigabytes; no claim about CUDA while torch is absent', () => {
  const findings = doctorFindings(FULL, {
    nvidia: { ok: false, message: 'no GPU detected (nvidia-smi not found or failed)' },
  });
  assert.deepEqual(
    findings.map((f) => f.kind),
    ['no-nvidia-gpu', 'missing-packages'],
  );
  assert.match(findings[0]!.message, /^no NVIDIA GPU on this machine/);
  assert.match(
    findings[1]!.message,
    /^\/venv\/bin\/python lacks torch, transformers, which the trainer needs \(several GB/,
  );
  assert.equal(findings[1]!.install, '/venv/bin/python -m pip install torch transformers');
  assert.equal(blocksRun(findings), true);
  const text = formatDoctorReport(FULL, findings, { ok: false, message: 'no GPU detected' });
  assert.doesNotMatch(text, /no GPU visible to torch/);
  assert.match(text, /torch cuda: unknown \(torch is not installed\)/);
  // With a GPU and every package: nothing to fix; a CPU-only torch on a GPU machine is said, as a warning.
  const ready: DoctorReport = withGpu({
    ...FULL,
    packages: Object.fromEntries(
      Object.keys(FULL.packages).map((n) => [n, { installed: true, version: '1', error: null }]),
    ),
  });
  assert.deepEqual(doctorFindings(ready, { nvidia: { ok: true, gpus: [] } }), []);
  const cpuTorch = { ...ready, cuda: { available: false, version: null, gpus: [] } };
  assert.deepEqual(
    doctorFindings(cpuTorch, { nvidia: { ok: true, gpus: [] } }).map((f) => [f.kind, f.severity]),
    [['no-cuda-torch', 'warning']],
  );
});

test(
  'the real trainer doctor without torch: a schema-valid report, findings that name the resolved interpreter',
  { skip: existsSync(NO_TORCH_PYTHON) ? false : `${NO_TORCH_PYTHON} not found` },
  async () => {
    const outcome = await runDoctorCheck({
      python: NO_TORCH_PYTHON,
      cwd: REPO,
      trainerRoot: TRAINER_ROOT,
      nvidia: { ok: false, message: 'no GPU detected' },
    });
    assert.ok(outcome.ok, outcome.ok ? '' : outcome.message);
    if (!outcome.ok) return;
    assert.equal(outcome.report.packages.torch!.installed, false);
    assert.equal(outcome.python, outcome.report.python.executable);
    const missing = outcome.findings.find((f) => f.kind === 'missing-packages')!;
    assert.match(
      missing.message,
      new RegExp(`^${outcome.report.python.executable.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} lacks torch`),
    );
  },
);

test(
  'the real trainer doctor with torch validates too',
  { skip: TORCH_PYTHON ? false : 'LORA_LENS_TEST_PYTHON is not set (no torch environment)' },
  async () => {
    const result = spawnSync(TORCH_PYTHON!, ['-m', 'lora_lens_trainer', 'doctor'], {
      cwd: TRAINER_ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    const parsed = parseDoctorReport(result.stdout);
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
    if (parsed.ok) assert.equal(parsed.report.packages.torch!.installed, true);
  },
);

test('a missing interpreter is named: "cannot start /nonexistent: not found"', async () => {
  const outcome = await runDoctorCheck({ python: '/nonexistent', cwd: REPO, trainerRoot: TRAINER_ROOT });
  assert.equal(outcome.ok, false);
  assert.match(!outcome.ok ? outcome.message : '', /^cannot start \/nonexistent: not found\./);
});

test("the stand-in trainers' doctors (the e2e and CLI tests run them) match the schema too", () => {
  const fake = spawnSync(process.execPath, [join(REPO, 'test', 'fixtures', 'runs', 'fake-trainer.mjs'), 'doctor'], {
    encoding: 'utf8',
  });
  const fakeReport = parseDoctorReport(fake.stdout);
  assert.ok(fakeReport.ok, fakeReport.ok ? '' : `fake-trainer.mjs: ${fakeReport.reason}`);
  for (const env of [{}, { FAKE_NO_TORCH: '1' }, { FAKE_NO_PEFT: '1' }]) {
    const standIn = spawnSync(process.env.LORA_LENS_TEST_PYTHON || 'python3', ['-m', 'lora_lens_trainer', 'doctor'], {
      cwd: join(REPO, 'test', 'fixtures', 'trainer'),
      encoding: 'utf8',
      env: { ...process.env, ...env },
    });
    const report = parseDoctorReport(standIn.stdout);
    assert.ok(report.ok, report.ok ? '' : `stand-in ${JSON.stringify(env)}: ${report.reason}`);
  }
});
