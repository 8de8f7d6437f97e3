/**
 * The axolotl or LLaMA-Factory config an adapter folder was trained from, read through the dialects for `lora-lens
 * eval` (kept out of evaluateTarget.ts so the extension, which evaluates its own run folders, does not bundle them).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { MAX_CONFIG_BYTES, hasSyntaxError, parseConfigDocument } from '../core/document/configDocument';
import { detectDialect, isToolDialectId } from '../core/dialects';
import { normalizeDialect } from '../core/dialects/normalize';
import type { TrainingPlan } from '../core/plan/types';
import type { EvalSettings } from './evaluateTarget';

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The plan of the first axolotl or LLaMA-Factory config in `folder` (YAML files, by name), or null. */
function toolPlanIn(folder: string): { path: string; dialect: string; plan: TrainingPlan } | null {
  let names: string[];
  try {
    names = readdirSync(folder)
      .filter((n) => /\.ya?ml$/i.test(n))
      .sort();
  } catch {
    return null;
  }
  for (const name of names.slice(0, 50)) {
    const path = join(folder, name);
    if (!isFile(path) || statSync(path).size > MAX_CONFIG_BYTES) continue;
    const doc = parseConfigDocument(readFileSync(path, 'utf8'));
    if (hasSyntaxError(doc)) continue;
    const match = detectDialect(doc, path);
    if (match.notChecked || !isToolDialectId(match.dialect)) continue;
    const normalized = normalizeDialect(match.dialect, doc, path, match.subKind ?? 'train');
    if (normalized.plan) return { path, dialect: match.dialect, plan: normalized.plan };
  }
  return null;
}

/** The training config beside an adapter folder (in it, else in its parent), as the settings evaluate needs. */
export function configBeside(adapterFolder: string): { path: string; dialect: string; settings: EvalSettings } | null {
  for (const folder of [adapterFolder, dirname(adapterFolder)]) {
    const found = toolPlanIn(folder);
    if (!found) continue;
    const { data } = found.plan;
    return {
      path: found.path,
      dialect: found.dialect,
      settings: {
        evalFile: data.eval,
        chatTemplate: data.chat_template,
        format: data.format,
        maxLength: data.max_length,
      },
    };
  }
  return null;
}
