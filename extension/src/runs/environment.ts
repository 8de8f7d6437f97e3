/** Which Python runs the trainer, and what its `doctor` report means for the user. Pure: no vscode import. */

export interface SettingValues { globalValue?: string; workspaceValue?: string; workspaceFolderValue?: string }

/**
 * The interpreter: the Python extension's active one, else `loraLens.pythonPath`, else `python3` on PATH. In an
 * untrusted workspace only the user's own (global) setting counts: a workspace could point pythonPath at any binary.
 */
export function choosePython(input: { trusted: boolean; fromPythonExtension?: string | null; setting: SettingValues }): { path: string; source: string } {
  const { trusted, setting } = input;
  if (trusted && input.fromPythonExtension) return { path: input.fromPythonExtension, source: 'the Python extension’s active interpreter' };
  const configured = trusted ? setting.workspaceFolderValue || setting.workspaceValue || setting.globalValue : setting.globalValue;
  if (configured) return { path: configured, source: 'the loraLens.pythonPath setting' };
  return { path: 'python3', source: 'python3 on PATH' };
}

export interface DoctorReport {
  python?: { version?: string; executable?: string };
  packages?: Record<string, { installed: boolean; version?: string | null; error?: string | null }>;
  cuda?: { available: boolean; version?: string | null; gpus?: { name: string; memory_bytes: number; bf16?: boolean }[] };
  quantization_backend?: string;
}

export interface DoctorFinding { severity: 'error' | 'warning' | 'info'; message: string; install?: string }

const REQUIRED = ['torch', 'transformers', 'peft', 'safetensors'];

/** The doctor report as messages a user can act on: what is missing, and the command that installs it. */
export function doctorFindings(report: DoctorReport, python: string, method?: string): DoctorFinding[] {
  const findings: DoctorFinding[] = [];
  const missing = REQUIRED.filter((name) => !report.packages?.[name]?.installed);
  if (missing.length) {
    findings.push({
      severity: 'error',
      message: `${python} lacks ${missing.join(', ')}, which the trainer needs.`,
      install: `${python} -m pip install ${missing.join(' ')}`,
    });
  }
  if (report.packages?.torch?.installed && !report.cuda?.available) {
    findings.push({ severity: 'error', message: `PyTorch ${report.packages.torch.version ?? ''} sees no CUDA GPU: training needs one (check the driver, or install a CUDA build of torch).`.replace('  ', ' ') });
  }
  if (method === 'qlora' && !report.packages?.bitsandbytes?.installed) {
    findings.push({ severity: 'info', message: 'bitsandbytes is not installed: QLoRA will use the built-in NF4 quantization (slower, same format).', install: `${python} -m pip install bitsandbytes` });
  }
  if (method && method !== 'full' && report.cuda?.gpus?.length && report.cuda.gpus.every((g) => g.bf16 === false)) {
    findings.push({ severity: 'warning', message: `${report.cuda.gpus[0]!.name} has no bf16: use precision fp16-mixed.` });
  }
  return findings;
}

/** Parses the doctor's stdout; null when it is not the JSON report (an old trainer, a wrong interpreter). */
export function parseDoctor(stdout: string): DoctorReport | null {
  try {
    const value = JSON.parse(stdout) as unknown;
    return value && typeof value === 'object' ? (value as DoctorReport) : null;
  } catch {
    return null;
  }
}
