// The pre-flight of a run of the user's own tool (toolDoctorFindings): the tool missing is an error naming it with
// the install line for that interpreter; the trainer's package list does not block a tool run; GPU findings stay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  blocksRun,
  doctorValidator,
  formatDoctorReport,
  toolDoctorFindings,
  type DoctorReport,
} from '../../server/src/runs/doctor';

const REPORT: DoctorReport = {
  python: { version: '3.11.2', executable: '/venv/bin/python' },
  packages: {
    torch: { installed: false, version: null, error: 'ModuleNotFoundError' },
    transformers: { installed: true, version: '5.1', error: null },
    peft: { installed: true, version: '0.21', error: null },
    safetensors: { installed: true, version: '0.8', error: null },
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

test('a missing tool blocks its run with its name and the install line for the interpreter', () => {
  assert.equal(doctorValidator()(REPORT), true, JSON.stringify(doctorValidator().errors));
  const findings = toolDoctorFindings(REPORT, 'llama-factory', {
    nvidia: { ok: false, message: 'nvidia-smi not found' } as never,
  });
  const missing = findings.find((f) => f.kind === 'missing-tool');
  assert.ok(missing, JSON.stringify(findings));
  assert.match(missing.message, /LLaMA-Factory is not installed in \/venv\/bin\/python/);
  assert.equal(missing.install, '/venv/bin/python -m pip install llamafactory');
  assert.ok(
    findings.some((f) => f.kind === 'no-nvidia-gpu'),
    'the GPU finding comes too',
  );
  assert.equal(blocksRun(findings), true);
});

test('an installed tool runs even where the trainer lacks packages; an installed one without its command does not', () => {
  const findings = toolDoctorFindings(REPORT, 'axolotl');
  assert.equal(
    findings.some((f) => f.kind === 'missing-packages'),
    false,
  );
  assert.equal(blocksRun(findings), false);
  const noScript = toolDoctorFindings(
    { ...REPORT, tools: { ...REPORT.tools, axolotl: { installed: true, version: '0.9.2', executable: null } } },
    'axolotl',
  );
  assert.match(noScript[0]!.message, /axolotl 0\.9\.2 is installed in \/venv\/bin\/python but its `axolotl` command/);
  const elsewhere = toolDoctorFindings(
    {
      ...REPORT,
      tools: {
        ...REPORT.tools,
        'llama-factory': { installed: false, version: null, executable: '/usr/local/bin/llamafactory-cli' },
      },
    },
    'llama-factory',
  );
  assert.deepEqual(
    elsewhere.map((f) => f.severity),
    ['info'],
    'a command from another environment runs: a note, not a block',
  );
  assert.match(elsewhere[0]!.message, /using `\/usr\/local\/bin\/llamafactory-cli` found on PATH/);
  assert.match(
    formatDoctorReport(REPORT, []),
    /ok {7}axolotl 0\.9\.2 \(\/venv\/bin\/axolotl\)\n {2}absent {3}LLaMA-Factory/,
  );
});
