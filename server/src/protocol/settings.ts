import { isDialectId, type DialectId } from '../core/dialects';
import { parseRuleSettings, type RuleSeverity } from '../core/rules';

/** The `loraLens.*` settings the server reads. */
export interface ServerSettings {
  /** Extra globs of config files. */
  files: string[];
  /** GPU to estimate against when a config says `hardware.gpu: auto` and none is detected ("RTX 4090", "24GiB"). */
  gpu: string | null;
  rules: Record<string, RuleSeverity>;
  /** `loraLens.dialects`: glob → dialect, overriding the guess from the top-level keys. */
  dialects: Record<string, DialectId>;
  /** `loraLens.hub`: whether a model found nowhere locally is looked up on the Hugging Face Hub. */
  hub: boolean;
  /** `loraLens.gpuHourlyCost`: one GPU's hourly price, for the cost beside the time estimate; null: none. */
  gpuHourlyCost: number | null;
  /** `loraLens.toolVersions`: dialect id → the tool release its files are checked against (`{"axolotl": "0.16"}`). */
  toolVersions: Record<string, string>;
  /**
   * `loraLens.gpuCount`: the GPUs a tool's launcher uses for a file that shards but names no count; null: this
   * machine's (detected).
   */
  gpuCount: number | null;
}

/** Settings from an untrusted value (initialization options, a configuration response or push). */
export function readSettings(value: unknown): ServerSettings {
  const raw = (value !== null && typeof value === 'object' ? value : {}) as {
    files?: unknown;
    gpu?: unknown;
    rules?: unknown;
    dialects?: unknown;
    hub?: unknown;
    gpuHourlyCost?: unknown;
    toolVersions?: unknown;
    gpuCount?: unknown;
  };
  return {
    files: Array.isArray(raw.files) ? raw.files.filter((f): f is string => typeof f === 'string') : [],
    gpu:
      typeof raw.gpu === 'string' && raw.gpu.trim() !== '' && raw.gpu.trim().toLowerCase() !== 'auto'
        ? raw.gpu.trim()
        : null,
    rules: parseRuleSettings(raw.rules),
    dialects: readDialects(raw.dialects),
    hub: raw.hub !== false,
    gpuHourlyCost:
      typeof raw.gpuHourlyCost === 'number' && Number.isFinite(raw.gpuHourlyCost) && raw.gpuHourlyCost >= 0
        ? raw.gpuHourlyCost
        : null,
    toolVersions: readToolVersions(raw.toolVersions),
    gpuCount:
      typeof raw.gpuCount === 'number' && Number.isInteger(raw.gpuCount) && raw.gpuCount >= 1 && raw.gpuCount <= 64
        ? raw.gpuCount
        : null,
  };
}

/** Tool releases by dialect id; entries for other ids or non-string versions are ignored. */
function readToolVersions(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return out;
  for (const [id, version] of Object.entries(value))
    if (isDialectId(id) && id !== 'lora-lens' && typeof version === 'string' && version.trim() !== '')
      out[id] = version.trim();
  return out;
}

/** Globs whose dialect LoRA Lens knows; others are ignored (a typo in the setting must not claim files). */
function readDialects(value: unknown): Record<string, DialectId> {
  const out: Record<string, DialectId> = {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return out;
  for (const [glob, dialect] of Object.entries(value)) if (isDialectId(dialect)) out[glob] = dialect;
  return out;
}
