/**
 * Which Python runs the trainer. What its doctor report means lives in the one doctor (server/src/runs/doctor.ts),
 * shared with the CLI. Pure: no vscode import.
 */
export {
  blocksRun,
  doctorFindings,
  installCommand,
  parseDoctorReport,
  type DoctorFinding,
  type DoctorReport,
} from '../../../server/src/runs/doctor';

/**
 * The buttons a doctor finding's toast offers: its install line, and Select Interpreter only where another interpreter
 * can help (a package it lacks, a CPU-only torch, a tool not installed in it); not for a machine without an NVIDIA GPU
 * or a GPU without bf16, which no interpreter changes.
 */
export function findingActions(finding: { kind: string; install?: string }): string[] {
  const interpreterHelps = ['missing-packages', 'no-cuda-torch', 'missing-tool', 'no-bitsandbytes'].includes(
    finding.kind,
  );
  return [...(finding.install ? ['Copy Install Command'] : []), ...(interpreterHelps ? ['Select Interpreter'] : [])];
}

export interface SettingValues {
  globalValue?: string;
  workspaceValue?: string;
  workspaceFolderValue?: string;
}

/**
 * The interpreter: the Python extension's active one, else `loraLens.pythonPath`, else `python3` on PATH. In an
 * untrusted workspace only the user's own (global) setting counts: a workspace could point pythonPath at any binary.
 */
export function choosePython(input: {
  trusted: boolean;
  fromPythonExtension?: string | null;
  setting: SettingValues;
}): { path: string; source: string } {
  const { trusted, setting } = input;
  if (trusted && input.fromPythonExtension)
    return { path: input.fromPythonExtension, source: 'the Python extension’s active interpreter' };
  const configured = trusted
    ? setting.workspaceFolderValue || setting.workspaceValue || setting.globalValue
    : setting.globalValue;
  if (configured) return { path: configured, source: 'the loraLens.pythonPath setting' };
  return { path: 'python3', source: 'python3 on PATH' };
}

/** The environment report as markdown for the read-only view: interpreter, findings with their install lines, the raw report. */
export function environmentMarkdown(input: {
  python: { path: string; source: string };
  resolved: string | null;
  findings: readonly { severity: string; message: string; install?: string }[];
  report: unknown;
  failure?: string;
}): string {
  const lines = [
    '# LoRA Lens environment',
    '',
    `Interpreter: \`${input.resolved ?? input.python.path}\` (${input.python.source}${input.resolved && input.resolved !== input.python.path ? `, started as \`${input.python.path}\`` : ''})`,
    '',
  ];
  if (input.failure) lines.push(`- **error**: ${input.failure}`);
  else if (input.findings.length)
    lines.push(
      ...input.findings.map(
        (f) => `- **${f.severity}**: ${f.message}${f.install ? `\n\n  \`\`\`\n  ${f.install}\n  \`\`\`` : ''}`,
      ),
    );
  else lines.push('- Ready to train: no problems found.');
  lines.push(
    '',
    "Change the interpreter with **LoRA Lens: Select Interpreter** (the Python extension's picker when installed, else the `loraLens.pythonPath` setting).",
  );
  if (input.report) lines.push('', '```json', JSON.stringify(input.report, null, 2), '```');
  return `${lines.join('\n')}\n`;
}
