/**
 * The command line that starts the user's own tool on a config, as its docs give it: `axolotl train FILE` (with a
 * launcher for several GPUs) and `llamafactory-cli train FILE` (several GPUs through its FORCE_TORCHRUN /
 * NPROC_PER_NODE). An argument array, never a shell; the config's folder is the working directory, since
 * LLaMA-Factory resolves `dataset_dir` and both resolve relative paths against it. Pure.
 */
import { dirname, resolve } from 'node:path';
import { DIALECTS, isToolDialectId, toolDialectOf } from '../../core/dialects/registry';
import type { ExternalTool } from './adapter';

const TOOL_IDS: ExternalTool[] = DIALECTS.map((d) => d.id).filter(isToolDialectId);

export interface ToolCommand {
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
}

/** The executable each tool installs (a console script in the interpreter's bin folder), from the dialect registry. */
export const TOOL_EXECUTABLE = Object.fromEntries(TOOL_IDS.map((id) => [id, toolDialectOf(id).tool.executable])) as Record<ExternalTool, string>;

/** How to install each tool, for the "not installed" message, from the dialect registry. */
export const TOOL_INSTALL = Object.fromEntries(TOOL_IDS.map((id) => [id, toolDialectOf(id).tool.install])) as Record<ExternalTool, string>;

/**
 * `executable` is the tool's resolved path (found next to the selected interpreter, or on PATH); `gpus` the number
 * of GPUs the run uses.
 */
export function buildToolCommand(tool: ExternalTool, configPath: string, gpus: number, executable: string, base: NodeJS.ProcessEnv): ToolCommand {
  const config = resolve(configPath);
  // The dialect gives the tool's own command line (registry: core/dialects/<tool>/dialect.ts).
  const invocation = toolDialectOf(tool).tool.trainCommand(config, gpus);
  const env: NodeJS.ProcessEnv = { ...base, PYTHONUNBUFFERED: '1', ...invocation.env };
  return { command: executable, args: invocation.args, cwd: dirname(config), env };
}
