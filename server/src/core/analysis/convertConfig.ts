import { basename, dirname, join } from 'node:path';
import { parseConfigDocument, hasSyntaxError } from '../document/configDocument';
import { writeFileSafely } from '../document/safeWrite';
import { detectDialect, isToolDialectId, type DialectSettings } from '../dialects';
import { displayName, normalizeDialect, planToLoraLensYaml, type DialectName } from '../dialects/normalize';
import { conversionLosses } from '../dialects/normalize/convert';

export type Conversion =
  | { ok: true; dialect: DialectName; outputPath: string; yaml: string; lost: Array<{ key: string; reason: string }> }
  | { ok: false; message: string };

/** `<name>.finetune.yaml` beside the config (`axolotl/qlora.yml` → `axolotl/qlora.finetune.yaml`). */
export function convertedPath(configPath: string): string {
  const name = basename(configPath).replace(/\.(ya?ml|json)$/i, '');
  return join(dirname(configPath), `${name}.finetune.yaml`);
}

/**
 * The LoRA Lens config equivalent to an axolotl or LLaMA-Factory config, and every key that could not be carried
 * over (also listed in the file's header). Pure: the caller writes it (see writeConversion).
 */
export function convertConfig(text: string, configPath: string, settings?: DialectSettings): Conversion {
  const doc = parseConfigDocument(text);
  if (hasSyntaxError(doc))
    return {
      ok: false,
      message: `${configPath} does not parse as YAML; fix the syntax error first (lora-lens check ${configPath}).`,
    };
  const match = detectDialect(doc, configPath, settings);
  if (match.notChecked) return { ok: false, message: `${match.notChecked} Nothing to convert.` };
  if (match.dialect === 'lora-lens') return { ok: false, message: `${configPath} is already a LoRA Lens config.` };
  if (!isToolDialectId(match.dialect)) {
    return {
      ok: false,
      message: `${configPath} is not an axolotl, LLaMA-Factory or TRL config (no base_model/model_name_or_path with their keys); add \`# lora-lens: dialect=axolotl\`, \`dialect=llama-factory\` or \`dialect=trl\` as its first line if it is one.`,
    };
  }
  const normalized = normalizeDialect(match.dialect, doc, configPath, match.subKind ?? 'train');
  if (!normalized.plan) {
    const why = normalized.problems[0]?.message ?? 'it describes no training run';
    return { ok: false, message: `cannot convert ${configPath}: ${why}` };
  }
  const yaml = planToLoraLensYaml(normalized.plan, normalized.lost, match.dialect);
  const lost = [...normalized.lost, ...conversionLosses(normalized.plan)];
  return {
    ok: true,
    dialect: match.dialect,
    outputPath: convertedPath(configPath),
    yaml,
    lost: lost.map((l) => ({ key: displayName(l.key), reason: l.reason })),
  };
}

/**
 * Writes a conversion; refuses to replace an existing file unless `force`, and never writes through a symbolic link
 * or onto anything but a regular file (see writeFileSafely).
 */
export function writeConversion(
  conversion: Extract<Conversion, { ok: true }>,
  force: boolean,
): { ok: true } | { ok: false; message: string; exists?: true } {
  const written = writeFileSafely(conversion.outputPath, conversion.yaml, { replace: force });
  if (written.ok) return { ok: true };
  if (written.reason === 'exists')
    return { ok: false, message: `${conversion.outputPath} exists; pass --force to replace it.`, exists: true };
  return { ok: false, message: written.message };
}
