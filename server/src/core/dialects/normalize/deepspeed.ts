/**
 * A DeepSpeed JSON config as the memory estimate needs it: the ZeRO stage and what it moves to CPU memory (or NVMe).
 * axolotl and LLaMA-Factory name the file (`deepspeed: path.json`, relative to the folder the tool starts in) or,
 * through transformers' TrainingArguments, give the object inline.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { asObject, type Obj } from './read';

export interface ZeroSettings {
  stage: 0 | 1 | 2 | 3;
  /** zero_optimization.offload_optimizer.device cpu or nvme (or ZeRO-2's older `cpu_offload: true`). */
  offloadOptimizer: boolean;
  /** zero_optimization.offload_param.device cpu or nvme: ZeRO-3 only (DeepSpeed ignores it below stage 3). */
  offloadParams: boolean;
}

export type DeepSpeedConfig =
  { ok: true; settings: ZeroSettings; source: string } | { ok: false; source: string; why: string };

/** A DeepSpeed config is a few hundred bytes; anything past this is not one. */
const MAX_JSON_BYTES = 1024 * 1024;
/** How many folders above the config's own a relative path is also looked for in (a tool's repository layout). */
const PARENT_FOLDERS = 3;

/** The file's text, or null when it is not a readable file of a plausible size. */
export type ReadText = (path: string) => string | null;

const readBounded: ReadText = (path) => {
  try {
    // Only a regular file is opened: a FIFO would block the language server until a writer came, /dev/zero (size 0)
    // would fill its memory.
    const stat = statSync(path);
    if (!stat.isFile() || stat.size > MAX_JSON_BYTES) return null;
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
};

function offloaded(section: unknown): boolean {
  const device = asObject(section).device;
  return device === 'cpu' || device === 'nvme';
}

/** The ZeRO settings of a parsed DeepSpeed config, or why they cannot be read from it. */
export function zeroSettingsOf(json: unknown): ZeroSettings | string {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return 'it is not a JSON object';
  const zero = (json as Obj).zero_optimization;
  if (zero !== undefined && (zero === null || typeof zero !== 'object' || Array.isArray(zero)))
    return '`zero_optimization` is not an object';
  const z = asObject(zero);
  // DeepSpeed's default stage is 0 (no ZeRO): a config without the key runs as plain data parallelism.
  const stage = z.stage ?? 0;
  if (stage !== 0 && stage !== 1 && stage !== 2 && stage !== 3)
    return `zero_optimization.stage is ${JSON.stringify(stage)}, not 0, 1, 2 or 3`;
  return {
    stage,
    offloadOptimizer: stage > 0 && (offloaded(z.offload_optimizer) || z.cpu_offload === true),
    offloadParams: stage === 3 && (offloaded(z.offload_param) || z.cpu_offload_params === true),
  };
}

/**
 * The DeepSpeed config a tool's `deepspeed` key names: a path (tried in the config's folder, then up to three
 * folders above it, where a tool's own examples keep theirs), or an inline object. Null when the key is unset.
 */
export function readDeepSpeedConfig(
  value: unknown,
  configPath: string | null,
  read: ReadText = readBounded,
): DeepSpeedConfig | null {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const settings = zeroSettingsOf(value);
    return typeof settings === 'string'
      ? { ok: false, source: 'deepspeed', why: `the inline DeepSpeed config cannot be read: ${settings}` }
      : { ok: true, settings, source: 'deepspeed' };
  }
  if (typeof value !== 'string' || !value.trim()) return null;
  const name = value.trim();
  const candidates = candidatePaths(name, configPath);
  for (const path of candidates) {
    const text = read(path);
    if (text === null) continue;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      return { ok: false, source: path, why: `${path} is not JSON (${(error as Error).message})` };
    }
    const settings = zeroSettingsOf(json);
    return typeof settings === 'string'
      ? { ok: false, source: path, why: `${path} is not a DeepSpeed config: ${settings}` }
      : { ok: true, settings, source: path };
  }
  const where =
    candidates.length > 1 ? `${candidates[0]} (nor in the ${candidates.length - 1} folders above)` : candidates[0];
  return { ok: false, source: name, why: `${name} was not found: no file ${where}` };
}

function candidatePaths(name: string, configPath: string | null): string[] {
  if (isAbsolute(name)) return [name];
  const out: string[] = [];
  let dir = configPath ? dirname(configPath) : process.cwd();
  for (let i = 0; i <= PARENT_FOLDERS; i++) {
    out.push(join(dir, name));
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return out;
}
