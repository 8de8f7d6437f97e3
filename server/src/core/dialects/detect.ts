import { matchesGlob } from '../document/fileMatcher';
import type { ConfigDocument } from '../document/configDocument';
import type { DialectAbout } from './dialect';
import { DIALECTS, type DialectId, type DialectRegistry } from './registry';
import { sketchFromValue, sketchTopLevel, type TopLevelSketch } from './sniff';
import type { DialectMatch, DialectSettings } from './match';

const MODELINE = /^\s*#\s*lora-lens\s*:\s*dialect\s*=\s*([\w.-]+)\s*$/i;
const LLAMA_FACTORY_V1_ANY = [
  'peft_config',
  'dist_config',
  'train_dataset',
  'model_class',
  'kernel_config',
  'quant_config',
];

/**
 * Which dialect a config is written in: a first-line modeline (`# lora-lens: dialect=axolotl`) first, then the
 * `dialects` setting (glob → dialect; a `forced` dialect before everything), then each registered dialect's key signature, then file names a dialect
 * claims. Files recognised as torchtune recipes, LLaMA-Factory's experimental v1 dialect or launcher configs come
 * back with `notChecked`. Given text, it looks only at the top-level keys of the first 64 KB (cheap enough to
 * decide whether to claim a document); given a parsed document, it uses the parsed keys. `registry` is the list of
 * dialects (tests pass a longer one).
 */
export function detectDialect(
  input: string | ConfigDocument,
  path: string | null,
  settings?: DialectSettings,
  registry: DialectRegistry = DIALECTS,
): DialectMatch {
  const text = typeof input === 'string' ? input : input.text;
  const firstLine = text.split(/\r\n|\r|\n/, 1)[0] ?? '';
  const sketch =
    typeof input === 'string' || input.value === undefined
      ? sketchTopLevel(text)
      : sketchFromValue(input.value, firstLine);

  const forced = settings?.forced ? registry.find((d) => d.id === settings.forced) : undefined;
  if (forced) return matchOf(forced, 'setting', sketch);
  const modeline = MODELINE.exec(firstLine);
  if (modeline) {
    const named = registry.find((d) => d.id === modeline[1]!.toLowerCase());
    if (!named) {
      return {
        dialect: null,
        source: 'modeline',
        notChecked: `The modeline names dialect \`${modeline[1]}\`; LoRA Lens knows ${registry.map((d) => `\`${d.id}\``).join(', ')}.`,
      };
    }
    return matchOf(named, 'modeline', sketch);
  }
  const fromSetting = settingDialect(path, settings, registry);
  if (fromSetting) return matchOf(fromSetting, 'setting', sketch);
  return matchByKeys(sketch, path, registry);
}

function matchOf(dialect: DialectAbout, source: DialectMatch['source'], sketch: TopLevelSketch): DialectMatch {
  // The registry's ids are DialectIds; a test-only registry's ids pass through the same field.
  const match: DialectMatch = { dialect: dialect.id as DialectId, source };
  return dialect.subKind ? { ...match, subKind: dialect.subKind(sketch) } : match;
}

function settingDialect(
  path: string | null,
  settings: DialectSettings | undefined,
  registry: DialectRegistry,
): DialectAbout | undefined {
  if (!path || !settings?.dialects) return undefined;
  const normalized = path.replace(/\\/g, '/');
  for (const [glob, id] of Object.entries(settings.dialects)) {
    const dialect = registry.find((d) => d.id === id);
    if (dialect && matchesGlob(glob, normalized)) return dialect;
  }
  return undefined;
}

/** The key signatures, measured on the corpus so that no file matches two. */
function matchByKeys(sketch: TopLevelSketch, path: string | null, registry: DialectRegistry): DialectMatch {
  const candidates = registry.filter((d) => d.signature(sketch));
  const torchtune = sketch.componentKeys.size > 0;

  if (candidates.length > 1 || (candidates.length === 1 && torchtune)) {
    const names = [...candidates.map((d) => d.id), ...(torchtune ? ['torchtune'] : [])].join(' and ');
    return {
      dialect: null,
      source: 'keys',
      notChecked: `This file has the top-level keys of ${names}; add \`# lora-lens: dialect=...\` as its first line to say which it is.`,
    };
  }
  const only = candidates[0];
  if (only) {
    const refused = only.notChecked?.(sketch);
    return refused ? { dialect: null, source: 'keys', notChecked: refused } : matchOf(only, 'keys', sketch);
  }
  const excluded = notCheckedReason(sketch);
  if (excluded) return { dialect: null, source: 'keys', notChecked: excluded };
  const byName = path ? registry.find((d) => d.claimsFileName?.(path, sketch.firstLine)) : undefined;
  if (byName) return { dialect: byName.id as DialectId, source: 'file-name' };
  return { dialect: null, source: 'none' };
}

/** Files of other tools that look like configs but are none LoRA Lens checks, and why. */
function notCheckedReason(sketch: TopLevelSketch): string | undefined {
  const has = (key: string) => sketch.keys.has(key);
  if (sketch.componentKeys.size > 0) {
    return `A torchtune recipe config (\`${[...sketch.componentKeys][0]}._component_\`): LoRA Lens does not check torchtune configs.`;
  }
  if (sketch.keys.get('model') && !has('method') && LLAMA_FACTORY_V1_ANY.some(has)) {
    return "LLaMA-Factory's experimental v1 dialect (run with `USE_V1=1`): LoRA Lens checks the classic flat dialect only.";
  }
  if (has('compute_environment') || has('distributed_type')) {
    return 'An accelerate launcher config (`compute_environment`/`distributed_type`): it configures the launch, not the training, so LoRA Lens does not check it.';
  }
  if (has('zero_optimization') || has('train_micro_batch_size_per_gpu')) {
    return 'A DeepSpeed config (`zero_optimization`): the training config that names it is the one LoRA Lens checks.';
  }
  return undefined;
}
