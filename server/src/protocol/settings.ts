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
  };
}

/** Globs whose dialect LoRA Lens knows; others are ignored (a typo in the setting must not claim files). */
function readDialects(value: unknown): Record<string, DialectId> {
  const out: Record<string, DialectId> = {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return out;
  for (const [glob, dialect] of Object.entries(value)) if (isDialectId(dialect)) out[glob] = dialect;
  return out;
}
