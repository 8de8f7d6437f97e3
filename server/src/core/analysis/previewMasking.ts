/**
 * How a tool's masking settings reach the preview. The TrainingPlan carries one switch, `data.train_on_prompt`
 * (axolotl's `train_on_inputs`, LLaMA-Factory's `train_on_prompt`); the bundled trainer trains every assistant turn,
 * its end-of-turn marker included, and masks the rest. Where a config asks for other masking (axolotl's
 * `roles_to_train` and `train_on_eos`, LLaMA-Factory's `mask_history`), the preview shows the trainer's masking and
 * says, with these notes, where the tool's own would differ. Pure.
 */
import type { DialectId } from '../dialects';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Each place an axolotl setting can be: the top level, then each `datasets[]` entry (where axolotl reads it). */
function axolotlSettings(config: Record<string, unknown>, key: string): Array<{ where: string; value: unknown }> {
  const out: Array<{ where: string; value: unknown }> = [];
  if (key in config) out.push({ where: key, value: config[key] });
  const datasets = Array.isArray(config.datasets) ? config.datasets : [];
  datasets.forEach((d, i) => {
    if (isRecord(d) && key in d) out.push({ where: `datasets[${i}].${key}`, value: d[key] });
  });
  return out;
}

function axolotlNotes(config: Record<string, unknown>): string[] {
  const notes: string[] = [];
  for (const { where, value } of axolotlSettings(config, 'roles_to_train')) {
    const roles = Array.isArray(value) ? value.map(String) : [];
    if (roles.length === 1 && roles[0] === 'assistant') continue;
    notes.push(
      `${where}: [${roles.join(', ')}] is approximated: the bundled trainer trains the assistant turns only ` +
        '(every token with train_on_inputs: true); axolotl would train the turns of these roles',
    );
  }
  for (const { where, value } of axolotlSettings(config, 'train_on_eos')) {
    if (value === 'turn') continue;
    notes.push(
      `${where}: ${String(value)} is approximated: the bundled trainer trains each assistant turn's end-of-turn ` +
        "marker (axolotl's turn); axolotl would train " +
        (value === 'all' ? 'every end-of-turn marker' : value === 'last' ? "the last turn's only" : 'none of them'),
    );
  }
  return notes;
}

function llamaFactoryNotes(config: Record<string, unknown>): string[] {
  if (config.mask_history !== true) return [];
  return [
    'mask_history: true is approximated: the bundled trainer trains every assistant turn; LLaMA-Factory would ' +
      'train the last turn only',
  ];
}

/** The notes for a config of this dialect (its parsed YAML value); empty where the plan carries everything. */
export function maskingNotes(dialect: DialectId | null, config: unknown): string[] {
  if (!isRecord(config)) return [];
  if (dialect === 'axolotl') return axolotlNotes(config);
  if (dialect === 'llama-factory') return llamaFactoryNotes(config);
  return [];
}
