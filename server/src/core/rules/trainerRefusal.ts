import type { Finding, Rule } from './types';
import { refusalsFor, runsOnBundledTrainer } from './trainerCapabilities';
import { anchor, fix, leaf, set } from './util';

const path = (dotted: string) => dotted.split('.');

/**
 * The plan combinations the bundled trainer refuses at start (schemas/trainer-capabilities.json `refusals`: DoRA,
 * a LoRA bias, fp4 without bitsandbytes), reported where the config sets them, with the file's fix. A refusal that
 * an installed package lifts (`unless_installed`) depends on the machine that runs the trainer: a warning.
 */
export const trainerRefusal: Rule = {
  id: 'trainer-refusal',
  severity: 'error',
  summary: 'A setting the bundled trainer refuses at start (DoRA, a LoRA bias, fp4 without bitsandbytes).',
  check(input) {
    if (!runsOnBundledTrainer(input)) return [];
    const { doc, plan } = input;
    return refusalsFor(plan).map((refusal): Finding => {
      const keys = Object.keys(refusal.when).filter((k) => k !== 'method');
      const at = keys.length > 0 ? keys[keys.length - 1]! : 'method';
      const edits = Object.entries(refusal.fix).map(([key, value]) => set(path(key), value));
      const title = Object.entries(refusal.fix)
        .map(([key, value]) => `${leaf(key)}: ${JSON.stringify(value)}`)
        .join(', ');
      const lifted = refusal.unless_installed ? ` where ${refusal.unless_installed} is not installed` : '';
      return {
        range: anchor(doc, path(at), ...keys.slice(0, -1).map(path)),
        ...(refusal.unless_installed ? { severity: 'warning' as const } : {}),
        message: `The bundled trainer refuses this at start${lifted}: ${refusal.message}. Set ${title}.`,
        fixes: [fix(`Set ${title}`, edits, true)],
        data: { refusal: refusal.id },
      };
    });
  },
};
