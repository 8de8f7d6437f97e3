/**
 * The command line that starts the user's own tool on a config, as its docs give it: `axolotl train FILE` (with a
 * launcher for several GPUs) and `llamafactory-cli train FILE` (several GPUs through its FORCE_TORCHRUN /
 * NPROC_PER_NODE) and `trl sft|dpo --config FILE` (the command from the recipe's keys). An argument array, never a
 * shell; the config's folder is the working directory, since LLaMA-Factory resolves `dataset_dir` and the tools
 * resolve relative paths against it. Pure but for reading the head of the config where the tool has several commands.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DIALECTS, isToolDialectId, toolDialectOf } from '../../core/dialects/registry';
import { sketchTopLevel, SNIFF_BYTES, type TopLevelSketch } from '../../core/dialects/sniff';
import type { SubKind } from '../../core/dialects/types';
import type { ExternalTool } from './adapter';

const TOOL_IDS: ExternalTool[] = DIALECTS.map((d) => d.id).filter(isToolDialectId);

export interface ToolCommand {
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
}

/** The executable each tool installs (a console script in the interpreter's bin folder), from the dialect registry. */
export const TOOL_EXECUTABLE = Object.fromEntries(
  TOOL_IDS.map((id) => [id, toolDialectOf(id).tool.executable]),
) as Record<ExternalTool, string>;

/** How to install each tool, for the "not installed" message, from the dialect registry. */
export const TOOL_INSTALL = Object.fromEntries(TOOL_IDS.map((id) => [id, toolDialectOf(id).tool.install])) as Record<
  ExternalTool,
  string
>;

/**
 * `executable` is the tool's resolved path (found next to the selected interpreter, or on PATH); `gpus` the number
 * of GPUs the run uses.
 */
export function buildToolCommand(
  tool: ExternalTool,
  configPath: string,
  gpus: number,
  executable: string,
  base: NodeJS.ProcessEnv,
): ToolCommand {
  const sketch = configSketch(resolve(configPath));
  const subKind = sketch && toolDialectOf(tool).subKind?.(sketch);
  return toolCommandFor(tool, configPath, gpus, executable, base, subKind, sketch && new Set(sketch.keys.keys()));
}

/** The command of a tool whose dialect has several (TRL's sft and dpo), from the first 64 KB of the config; else undefined. */
export function configSubKind(tool: ExternalTool, configPath: string): SubKind | undefined {
  const dialect = toolDialectOf(tool);
  if (!dialect.subKind) return undefined;
  const sketch = configSketch(configPath);
  return sketch && dialect.subKind(sketch);
}

/** The top-level keys of the first 64 KB of the config; undefined when it cannot be read (the tool says why). */
function configSketch(configPath: string): TopLevelSketch | undefined {
  let head = '';
  try {
    const fd = openSync(configPath, 'r');
    try {
      const buffer = Buffer.alloc(SNIFF_BYTES);
      head = buffer.subarray(0, readSync(fd, buffer, 0, SNIFF_BYTES, 0)).toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined; // an unreadable config: the tool reports it itself
  }
  return sketchTopLevel(head);
}

/** {@link buildToolCommand} with the sub-kind given. Pure. */
export function toolCommandFor(
  tool: ExternalTool,
  configPath: string,
  gpus: number,
  executable: string,
  base: NodeJS.ProcessEnv,
  subKind?: SubKind,
  keys?: ReadonlySet<string>,
): ToolCommand {
  const config = resolve(configPath);
  // The dialect gives the tool's own command line (registry: core/dialects/<tool>/about.ts).
  const invocation = toolDialectOf(tool).tool.trainCommand(config, gpus, subKind, keys);
  const env: NodeJS.ProcessEnv = { ...base, PYTHONUNBUFFERED: '1', ...invocation.env };
  return { command: executable, args: invocation.args, cwd: dirname(config), env };
}
