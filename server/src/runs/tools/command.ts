/**
 * The command line that starts the user's own tool on a config, as its docs give it: `axolotl train FILE` (with a
 * launcher for several GPUs) and `llamafactory-cli train FILE` (several GPUs through its FORCE_TORCHRUN /
 * NPROC_PER_NODE). An argument array, never a shell; the config's folder is the working directory, since
 * LLaMA-Factory resolves `dataset_dir` and both resolve relative paths against it. Pure.
 */
import { dirname, resolve } from 'node:path';
import type { ExternalTool } from './adapter';

export interface ToolCommand {
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
}

/** The executable each tool installs (a console script in the interpreter's bin folder). */
export const TOOL_EXECUTABLE: Record<ExternalTool, string> = { axolotl: 'axolotl', 'llama-factory': 'llamafactory-cli' };

/** How to install each tool, for the "not installed" message. */
export const TOOL_INSTALL: Record<ExternalTool, string> = {
  axolotl: 'pip install axolotl',
  'llama-factory': 'pip install llamafactory',
};

/**
 * `executable` is the tool's resolved path (found next to the selected interpreter, or on PATH); `gpus` the number
 * of GPUs the run uses.
 */
export function buildToolCommand(tool: ExternalTool, configPath: string, gpus: number, executable: string, base: NodeJS.ProcessEnv): ToolCommand {
  const config = resolve(configPath);
  const env: NodeJS.ProcessEnv = { ...base, PYTHONUNBUFFERED: '1' };
  const args = ['train', config];
  if (tool === 'axolotl') {
    if (gpus > 1) args.push('--launcher', 'torchrun', '--', `--nproc_per_node=${gpus}`);
  } else if (gpus > 1) {
    env.FORCE_TORCHRUN = '1';
    env.NPROC_PER_NODE = String(gpus);
  }
  return { command: executable, args, cwd: dirname(config), env };
}
