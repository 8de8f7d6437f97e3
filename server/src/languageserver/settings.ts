import { parseRuleSettings, type RuleSeverity } from '../rules';

/** The `loraLens.*` settings the server reads. */
export interface ServerSettings {
  /** Extra globs of config files. */
  files: string[];
  /** GPU to estimate against when a config says `hardware.gpu: auto` and none is detected ("RTX 4090", "24GiB"). */
  gpu: string | null;
  rules: Record<string, RuleSeverity>;
}

/** Settings from an untrusted value (initialization options, a configuration response or push). */
export function readSettings(value: unknown): ServerSettings {
  const raw = (value !== null && typeof value === 'object' ? value : {}) as { files?: unknown; gpu?: unknown; rules?: unknown };
  return {
    files: Array.isArray(raw.files) ? raw.files.filter((f): f is string => typeof f === 'string') : [],
    gpu: typeof raw.gpu === 'string' && raw.gpu.trim() !== '' && raw.gpu.trim().toLowerCase() !== 'auto' ? raw.gpu.trim() : null,
    rules: parseRuleSettings(raw.rules),
  };
}
