/**
 * The one doctor: the trainer's environment report (schemas/doctor.schema.json, validated here as the Python side
 * validates what it prints), what it means (findings, GPU first), and the one install advice. Used by `lora-lens
 * doctor`, `lora-lens run`'s pre-flight and the editor's Run Fine-Tune. No vscode.
 */
import Ajv, { type ValidateFunction } from 'ajv';
import doctorSchema from '../../../schemas/doctor.schema.json';
import { DIALECTS, isToolDialectId, toolDialectOf, type ToolDialectId } from '../core/dialects/registry';
import type { Detection } from './gpuDetect';
import { runTrainerOnce } from './process';

export interface PackageInfo {
  installed: boolean;
  version: string | null;
  error: string | null;
}
export interface ToolInfo {
  installed: boolean;
  version: string | null;
  executable: string | null;
}
export interface DoctorGpu {
  index: number;
  name: string;
  memory_bytes: number;
  compute_capability: string;
  bf16: boolean;
}

/** `python -m lora_lens_trainer doctor`'s report; the schema test keeps this type and the schema in step. */
export interface DoctorReport {
  python: { version: string; executable: string };
  /** By import name; `gguf` (optional) is what `lora-lens export --format gguf` writes with. */
  packages: Record<string, PackageInfo> & { gguf?: PackageInfo };
  /** The packages the trainer cannot run without (the one list: doctor.py's REQUIRED_PACKAGES). */
  required_packages: string[];
  cuda: { available: boolean; version: string | null; gpus: DoctorGpu[] };
  quantization_backend: 'bitsandbytes' | 'builtin-nf4';
  /** The user's own tools in this interpreter (importlib.metadata, never imported), by dialect id. */
  tools: Record<ToolDialectId, ToolInfo>;
  /** CUDA GPUs torch sees. */
  gpu_count: number;
}

export type FindingKind =
  'no-nvidia-gpu' | 'missing-packages' | 'missing-tool' | 'no-cuda-torch' | 'no-bitsandbytes' | 'no-bf16';

export interface DoctorFinding {
  kind: FindingKind;
  severity: 'error' | 'warning' | 'info';
  message: string;
  /** A command line that fixes it, for a terminal (or the clipboard). */
  install?: string;
}

/** What the doctor found: the report (null when the interpreter could not run it) and the findings, GPU first. */
export type DoctorOutcome =
  | { ok: true; report: DoctorReport; python: string; findings: DoctorFinding[] }
  | { ok: false; python: string; message: string };

let validator: ValidateFunction | null = null;

/** The compiled doctor schema (compiled once). */
export function doctorValidator(): ValidateFunction {
  if (!validator) validator = new Ajv({ allErrors: true, strict: false }).compile(doctorSchema);
  return validator;
}

/** The doctor's stdout as a report, or why it is not one (an old trainer, a wrong interpreter, a traceback). */
export function parseDoctorReport(stdout: string): { ok: true; report: DoctorReport } | { ok: false; reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(stdout);
  } catch {
    return { ok: false, reason: 'its output is not JSON' };
  }
  const validate = doctorValidator();
  if (!validate(value)) {
    return {
      ok: false,
      reason: `its report does not match schemas/doctor.schema.json: ${(validate.errors ?? [])
        .slice(0, 3)
        .map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`)
        .join('; ')}`,
    };
  }
  return { ok: true, report: value as DoctorReport };
}

/** The one install advice: the resolved interpreter's pip, so the packages land where the trainer runs. */
export function installCommand(python: string, packages: readonly string[]): string {
  const quoted = /[\s'"]/.test(python) ? `"${python}"` : python;
  return `${quoted} -m pip install ${packages.join(' ')}`;
}

const TORCH_NOTE = 'torch: pick the build for your CUDA driver (https://pytorch.org/get-started/locally/)';

/** The required packages the report says are missing, in the report's order. */
export function missingPackages(report: DoctorReport): string[] {
  return report.required_packages.filter((name) => !report.packages[name]?.installed);
}

/**
 * The report as findings a user can act on, GPU first: on a machine where nvidia-smi finds no NVIDIA GPU, that comes
 * before any advice to download gigabytes of packages. `python` is the interpreter that actually ran (the report's
 * sys.executable), named in every message. `nvidia` is the nvidia-smi detection (null when not asked).
 */
export function doctorFindings(
  report: DoctorReport,
  options: { nvidia?: Detection | null; method?: string } = {},
): DoctorFinding[] {
  const python = report.python.executable;
  const findings: DoctorFinding[] = [];
  const torch = report.packages.torch;
  const noNvidia = options.nvidia ? !options.nvidia.ok && !report.cuda.available : false;
  if (noNvidia) {
    findings.push({
      kind: 'no-nvidia-gpu',
      severity: 'warning',
      message:
        'no NVIDIA GPU on this machine (nvidia-smi finds none): the trainer would run on the CPU, practical only for tiny models. ' +
        'Train on a machine with an NVIDIA GPU (the config, the checks and the estimates work here).',
    });
  }
  const missing = missingPackages(report);
  if (missing.length) {
    findings.push({
      kind: 'missing-packages',
      severity: 'error',
      message:
        `${python} lacks ${missing.join(', ')}, which the trainer needs${noNvidia ? ' (several GB with torch: worth it only where you will train)' : ''}.` +
        (missing.includes('torch') ? ` ${TORCH_NOTE}.` : ''),
      install: installCommand(python, missing),
    });
  }
  // Only torch can say whether torch sees a GPU: nothing is claimed about CUDA while torch is absent.
  if (torch?.installed && !report.cuda.available && !noNvidia) {
    findings.push({
      kind: 'no-cuda-torch',
      severity: 'warning',
      message:
        `PyTorch ${torch.version ?? ''} in ${python} sees no CUDA GPU${report.cuda.version ? '' : ' (a CPU-only build)'}: training would run on the CPU. `.replace(
          / {2}/g,
          ' ',
        ) + 'Check the driver (nvidia-smi), or install the CUDA build of torch.',
    });
  }
  if (options.method === 'qlora' && !missing.length && !report.packages.bitsandbytes?.installed) {
    findings.push({
      kind: 'no-bitsandbytes',
      severity: 'info',
      message: 'bitsandbytes is not installed: QLoRA uses the built-in NF4 quantization (slower, same format).',
      install: installCommand(python, ['bitsandbytes']),
    });
  }
  if (
    options.method &&
    options.method !== 'full' &&
    report.cuda.gpus.length &&
    report.cuda.gpus.every((g) => !g.bf16)
  ) {
    findings.push({
      kind: 'no-bf16',
      severity: 'warning',
      message: `${report.cuda.gpus[0]!.name} has no bf16: use precision fp16-mixed.`,
    });
  }
  return findings;
}

/** Each tool's name, distribution and console script, from the dialect registry. */
const TOOL_DIST = Object.fromEntries(
  DIALECTS.filter((d) => isToolDialectId(d.id)).map((d) => {
    const { tool } = toolDialectOf(d.id as ToolDialectId);
    return [d.id, { name: d.displayName, dist: tool.distribution, script: tool.executable }];
  }),
) as Record<keyof DoctorReport['tools'], { name: string; dist: string; script: string }>;

/**
 * The pre-flight of a run of the user's own tool: the tool installed in the interpreter (its console script there or on
 * PATH), and the GPU findings. The trainer's own package list is not asked for: the tool brings its dependencies.
 */
export function toolDoctorFindings(
  report: DoctorReport,
  tool: keyof DoctorReport['tools'],
  options: { nvidia?: Detection | null } = {},
): DoctorFinding[] {
  const findings = doctorFindings(report, { nvidia: options.nvidia }).filter(
    (f) => f.kind === 'no-nvidia-gpu' || f.kind === 'no-cuda-torch',
  );
  const info = report.tools[tool];
  const { name, dist, script } = TOOL_DIST[tool];
  if (!info.executable) {
    findings.push({
      kind: 'missing-tool',
      severity: 'error',
      message: info.installed
        ? `${name} ${info.version ?? ''} is installed in ${report.python.executable} but its \`${script}\` command is neither beside it nor on PATH.`.replace(
            / {2}/g,
            ' ',
          )
        : `${name} is not installed in ${report.python.executable} (no \`${dist}\` distribution, no \`${script}\` on PATH).`,
      install: installCommand(report.python.executable, [dist]),
    });
  } else if (!info.installed) {
    // A console script from another environment (pipx, another venv) runs with its own interpreter: usable, said once.
    findings.push({
      kind: 'missing-tool',
      severity: 'info',
      message: `${name} is not installed in ${report.python.executable}; using \`${info.executable}\` found on PATH (it runs with its own interpreter).`,
    });
  }
  return findings;
}

/** Whether the findings block a run (something required is missing). */
export function blocksRun(findings: readonly DoctorFinding[]): boolean {
  return findings.some((f) => f.severity === 'error');
}

/** Runs the trainer's doctor with `python` and reads its report; a failure names the interpreter it tried. */
export async function runDoctorCheck(options: {
  python: string;
  cwd: string;
  trainerRoot: string | null;
  nvidia?: Detection | null;
  method?: string;
  tool?: keyof DoctorReport['tools'];
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}): Promise<DoctorOutcome> {
  const result = await runTrainerOnce({
    python: options.python,
    verb: 'doctor',
    cwd: options.cwd,
    trainerRoot: options.trainerRoot,
    env: options.env,
    timeoutMs: options.timeoutMs ?? 60_000,
  });
  if (result.spawnError)
    return {
      ok: false,
      python: options.python,
      message: `${result.spawnError}. Install Python 3.10+ or pick another interpreter.`,
    };
  const parsed = parseDoctorReport(result.stdout);
  if (!parsed.ok) {
    const last = result.stderr.trim().split('\n').filter(Boolean).pop();
    return {
      ok: false,
      python: options.python,
      message: `${options.python} could not run the trainer's doctor (exit ${result.code}): ${parsed.reason}${last ? `; it said: ${last}` : ''}`,
    };
  }
  return {
    ok: true,
    report: parsed.report,
    python: parsed.report.python.executable,
    findings: options.tool
      ? toolDoctorFindings(parsed.report, options.tool, { nvidia: options.nvidia })
      : doctorFindings(parsed.report, { nvidia: options.nvidia, method: options.method }),
  };
}

const OPTIONAL_WHY: Record<string, string> = {
  bitsandbytes: 'optional: QLoRA uses the built-in NF4 without it, and adamw_8bit falls back to AdamW',
  pyarrow: 'optional: needed only for .parquet datasets',
  accelerate: 'optional',
  gguf: `optional: lora-lens export --format gguf writes with it`,
};
/** The version `lora-lens export` is tested with (node-llama-cpp 3.21.1 reads its files). */
export const GGUF_VERSION = '0.19.0';

function optionalWhy(name: string, report: DoctorReport): string {
  const why = OPTIONAL_WHY[name] ?? 'optional';
  return name === 'gguf' ? `${why}: ${installCommand(report.python.executable, [`gguf==${GGUF_VERSION}`])}` : why;
}

/** The report as text for a terminal: the GPU, the packages, then what to fix. */
export function formatDoctorReport(
  report: DoctorReport,
  findings: readonly DoctorFinding[],
  nvidia: Detection | null = null,
): string {
  const gib = (b: number) => `${(b / 1024 ** 3).toFixed(1)} GiB`;
  const lines = [`python ${report.python.version} (${report.python.executable})`];
  if (nvidia)
    lines.push(
      nvidia.ok
        ? `nvidia-smi: ${nvidia.gpus.map((g) => `${g.name} (${gib(g.memoryBytes)})`).join(', ')}`
        : `nvidia-smi: ${nvidia.message}`,
    );
  if (report.cuda.available) {
    lines.push(`torch cuda ${report.cuda.version ?? '?'}`);
    for (const g of report.cuda.gpus)
      lines.push(
        `  gpu ${g.index}: ${g.name}, ${gib(g.memory_bytes)}, compute ${g.compute_capability}, bf16 ${g.bf16 ? 'yes' : 'no'}`,
      );
  } else if (report.packages.torch?.installed) {
    lines.push(
      `torch cuda: no GPU visible to torch (${report.cuda.version ? `built for CUDA ${report.cuda.version}` : 'a CPU-only build'})`,
    );
  } else {
    lines.push('torch cuda: unknown (torch is not installed)');
  }
  lines.push('packages:');
  for (const [name, info] of Object.entries(report.packages)) {
    const required = report.required_packages.includes(name);
    if (info.installed) lines.push(`  ok       ${name} ${info.version ?? ''}`.trimEnd());
    else
      lines.push(`  ${required ? 'MISSING ' : 'absent  '} ${name}${required ? '' : ` (${optionalWhy(name, report)})`}`);
  }
  lines.push('training tools:');
  for (const [id, info] of Object.entries(report.tools) as [keyof DoctorReport['tools'], ToolInfo][]) {
    lines.push(
      info.installed
        ? `  ok       ${TOOL_DIST[id].name} ${info.version ?? ''}${info.executable ? ` (${info.executable})` : ` (no ${TOOL_DIST[id].script} command found)`}`
        : `  absent   ${TOOL_DIST[id].name} (optional: runs its configs with its own CLI)`,
    );
  }
  lines.push(
    `4-bit quantization: ${report.quantization_backend === 'bitsandbytes' ? 'bitsandbytes' : 'built-in NF4 (bitsandbytes absent)'}`,
  );
  if (findings.length) {
    lines.push('', 'to fix:');
    for (const f of findings)
      lines.push(`  - ${f.severity}: ${f.message}`, ...(f.install ? [`      ${f.install}`] : []));
  }
  lines.push(
    '',
    blocksRun(findings)
      ? 'not ready to train'
      : findings.length
        ? 'ready to train (see the notes above)'
        : 'ready to train',
  );
  return `${lines.join('\n')}\n`;
}
