/**
 * Keys named in rule messages and fix titles, as plan paths. A rule writes `${leaf('lora.r')} is large`; the text
 * holds a placeholder for the plan path `lora.r` with our dialect's spelling (`r`), and the registry renders it in
 * the config's dialect (`lora_r` for axolotl, `lora_rank` for LLaMA-Factory). Only placeholders are replaced: the
 * English around them is never rewritten (a key-renaming regex over finished messages once turned "a base model"
 * into "a base base_model").
 *
 * The placeholder is delimited by Unicode private-use characters, which no key, value or message ever contains.
 */

const OPEN = '\uE000';
const SPLIT = '\uE001';
const CLOSE = '\uE002';
const PLACEHOLDER = /\uE000([^\uE001\uE002]*)\uE001([^\uE002]*)\uE002/g;

/**
 * A plan key named in a message. Our dialect spells it `ours` (by default the dotted plan path, `data.max_length`);
 * a tool's dialect spells it as its own key, when it has one.
 */
export function key(planPath: string, ours = planPath): string {
  return `${OPEN}${planPath}${SPLIT}${ours}${CLOSE}`;
}

/** A plan key that our dialect spells by its last segment (`max_length`), as most messages name keys in prose. */
export function leaf(planPath: string): string {
  return key(planPath, planPath.slice(planPath.lastIndexOf('.') + 1));
}

/** The plan paths a text names through placeholders, each once, in order. */
export function keysNamed(text: string): string[] {
  const paths: string[] = [];
  for (const match of text.matchAll(PLACEHOLDER)) if (!paths.includes(match[1]!)) paths.push(match[1]!);
  return paths;
}

/**
 * The text with each placeholder spelled by `spell(planPath)`; where it answers undefined (our dialect, or a plan
 * field the tool has no key for), by our own spelling.
 */
export function renderKeyNames(
  text: string,
  spell: (planPath: string) => string | undefined = () => undefined,
): string {
  return text.replace(PLACEHOLDER, (_whole, planPath: string, ours: string) => spell(planPath) ?? ours);
}
