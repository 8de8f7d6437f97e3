import { findTrainerRoot, runTrainerOnce } from '../run';
import { ExitCode, type CliIO } from './io';

const USAGE = 'usage: lora-lens doctor [--python PATH] [--json]';

interface PackageInfo { installed: boolean; version: string | null; error: string | null }
/** The trainer's `doctor` JSON (trainer/lora_lens_trainer/doctor.py). */
export interface DoctorReport {
  python: { version: string; executable: string };
  packages: Record<string, PackageInfo>;
  cuda: { available: boolean; version: string | null; gpus: Array<{ index: number; name: string; memory_bytes: number; compute_capability: string; bf16: boolean }> };
  quantization_backend: 'bitsandbytes' | 'builtin-nf4';
}

const REQUIRED = ['torch', 'transformers', 'peft', 'safetensors'];
const INSTALL: Record<string, string> = {
  torch: 'pip install torch  (pick the CUDA build for your driver: https://pytorch.org/get-started/locally/)',
  transformers: 'pip install "transformers>=4.56"',
  peft: 'pip install "peft>=0.17"',
  safetensors: 'pip install safetensors',
  accelerate: 'pip install accelerate',
  bitsandbytes: 'pip install bitsandbytes',
  pyarrow: 'pip install pyarrow',
};
const OPTIONAL_WHY: Record<string, string> = {
  bitsandbytes: 'optional: QLoRA uses the built-in NF4 without it, and adamw_8bit falls back to AdamW',
  pyarrow: 'optional: needed only for .parquet datasets',
  accelerate: 'optional',
};

/** The report as text, plus whether training can run (the required packages import and a CUDA GPU is visible). */
export function formatDoctorReport(report: DoctorReport): { text: string; ok: boolean } {
  const lines = [`python ${report.python.version} (${report.python.executable})`];
  const missing: string[] = [];
  for (const [name, info] of Object.entries(report.packages)) {
    const required = REQUIRED.includes(name);
    if (info.installed) lines.push(`  ok       ${name} ${info.version ?? ''}`.trimEnd());
    else {
      lines.push(`  ${required ? 'MISSING ' : 'absent  '} ${name}${required ? '' : ` (${OPTIONAL_WHY[name] ?? 'optional'})`}`);
      if (required) missing.push(name);
    }
  }
  const gib = (b: number) => `${(b / 1024 ** 3).toFixed(1)} GiB`;
  if (report.cuda.available) {
    lines.push(`cuda ${report.cuda.version ?? '?'}`);
    for (const g of report.cuda.gpus) lines.push(`  gpu ${g.index}: ${g.name}, ${gib(g.memory_bytes)}, compute ${g.compute_capability}, bf16 ${g.bf16 ? 'yes' : 'no'}`);
  } else {
    lines.push('cuda: no GPU visible to torch' + (report.packages.torch?.installed ? ` (torch built for CUDA ${report.cuda.version ?? 'none: a CPU-only build'})` : ''));
  }
  lines.push(`4-bit quantization: ${report.quantization_backend === 'bitsandbytes' ? 'bitsandbytes' : 'built-in NF4 (bitsandbytes absent)'}`);
  const problems: string[] = [];
  for (const name of missing) problems.push(`${name} is missing: ${INSTALL[name]}`);
  if (!report.cuda.available && report.packages.torch?.installed) {
    problems.push('no CUDA GPU: training would run on the CPU. Check `nvidia-smi`, and install a CUDA build of torch');
  }
  if (problems.length) lines.push('', 'to fix:', ...problems.map((p) => `  - ${p}`));
  else lines.push('', 'ready to train');
  return { text: `${lines.join('\n')}\n`, ok: problems.length === 0 };
}

/** `lora-lens doctor`: the trainer's environment report; exit 1 when something required is missing. */
export async function runCommand(args: string[], io: CliIO): Promise<number> {
  let python = process.env.LORA_LENS_PYTHON || 'python3';
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--python') python = args[++i] ?? '';
    else if (arg === '--json') json = true;
    else if (arg === '-h' || arg === '--help') { io.stdout.write(`${USAGE}\n`); return ExitCode.ok; }
    else { io.stderr.write(`lora-lens doctor: unknown argument ${arg}\n${USAGE}\n`); return ExitCode.usage; }
  }
  if (!python) { io.stderr.write(`lora-lens doctor: --python needs a path\n`); return ExitCode.usage; }
  const trainerRoot = process.env.LORA_LENS_TRAINER_ROOT || findTrainerRoot(__dirname);
  const result = await runTrainerOnce({ python, verb: 'doctor', cwd: io.cwd, trainerRoot });
  let report: DoctorReport;
  try {
    report = JSON.parse(result.stdout) as DoctorReport;
  } catch {
    io.stderr.write(`lora-lens doctor: could not run the trainer with ${python} (exit ${result.code}).\n${result.stderr.trim()}\n`
      + 'Install Python 3.10+ or pass --python PATH (or set LORA_LENS_PYTHON).\n');
    return ExitCode.problems;
  }
  if (json) { io.stdout.write(`${JSON.stringify(report, null, 2)}\n`); return ExitCode.ok; }
  const { text, ok } = formatDoctorReport(report);
  io.stdout.write(text);
  return ok ? ExitCode.ok : ExitCode.problems;
}
