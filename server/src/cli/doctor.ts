import { detectGpus } from '../runs/gpuDetect';
import { blocksRun, findTrainerRoot, formatDoctorReport, runDoctorCheck } from '../runs';
import { ExitCode, type CliIO } from './io';
import { helpText, parseArgs, shortUsage, type CommandSpec } from './options';

export const DOCTOR: CommandSpec = {
  name: 'doctor',
  usage: ['[options]'],
  summary:
    'The environment the trainer would run in: the NVIDIA GPUs nvidia-smi sees, the interpreter, the packages the\n' +
    'trainer needs (torch, transformers, peft, safetensors) and what torch sees of CUDA, with the command that installs\n' +
    "what is missing. --json prints the trainer's report (schemas/doctor.schema.json) with the findings.",
  options: [
    { name: 'python', value: 'PATH', help: 'the interpreter to check (default $LORA_LENS_PYTHON, else python3)' },
  ],
  notes: [
    'exit: 0 ready (warnings allowed), 1 something required is missing or the interpreter cannot run, 2 usage error; the same with --json.',
  ],
  positionals: [0, 0],
  positionalName: 'argument',
};

/** The interpreter when none is given: $LORA_LENS_PYTHON, else python3 on PATH. */
export function defaultPython(): string {
  return process.env.LORA_LENS_PYTHON || 'python3';
}

/** The bundled trainer package's folder ($LORA_LENS_TRAINER_ROOT overrides, for tests and development). */
export function trainerRoot(): string | null {
  return process.env.LORA_LENS_TRAINER_ROOT || findTrainerRoot(__dirname);
}

/** `lora-lens doctor`: the environment report; exit 1 when something required is missing, with or without --json. */
export async function runCommand(args: string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(DOCTOR, args);
  if (typeof parsed === 'string') {
    io.stderr.write(`lora-lens doctor: ${parsed}\n${shortUsage(DOCTOR)}\n`);
    return ExitCode.usage;
  }
  if (parsed.help) {
    io.stdout.write(helpText(DOCTOR));
    return ExitCode.ok;
  }
  const python = parsed.values.get('python') ?? defaultPython();
  const nvidia = await detectGpus();
  const outcome = await runDoctorCheck({ python, cwd: io.cwd, trainerRoot: trainerRoot(), nvidia });
  if (!outcome.ok) {
    if (parsed.format === 'json')
      io.stdout.write(`${JSON.stringify({ ok: false, python, error: outcome.message }, null, 2)}\n`);
    io.stderr.write(
      `lora-lens doctor: ${outcome.message}\nPass --python PATH (or set LORA_LENS_PYTHON) to use another interpreter.\n`,
    );
    return ExitCode.problems;
  }
  const ready = !blocksRun(outcome.findings);
  if (parsed.format === 'json') {
    io.stdout.write(
      `${JSON.stringify({ ok: ready, report: outcome.report, nvidia_smi: nvidia.ok ? nvidia.gpus.map((g) => ({ name: g.name, memory_bytes: g.memoryBytes })) : null, findings: outcome.findings }, null, 2)}\n`,
    );
  } else {
    io.stdout.write(formatDoctorReport(outcome.report, outcome.findings, nvidia));
  }
  return ready ? ExitCode.ok : ExitCode.problems;
}
