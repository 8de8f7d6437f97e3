import { isConfigFile, matchesGlob } from '../document/fileMatcher';
import type { ConfigDocument } from '../document/configDocument';
import { sketchFromValue, sketchTopLevel, type TopLevelSketch } from './sniff';
import type { DialectId, DialectMatch, DialectSettings, SubKind } from './types';

const DIALECT_IDS: readonly DialectId[] = ['lora-lens', 'axolotl', 'llama-factory'];
const MODELINE = /^\s*#\s*lora-lens\s*:\s*dialect\s*=\s*([\w.-]+)\s*$/i;

const AXOLOTL_ANY = ['datasets', 'pretraining_dataset', 'sequence_len', 'micro_batch_size', 'adapter', 'num_epochs'];
const LLAMA_FACTORY_ANY = ['stage', 'finetuning_type', 'template', 'cutoff_len', 'dataset', 'do_train', 'export_dir', 'infer_backend'];
const LLAMA_FACTORY_V1_ANY = ['peft_config', 'dist_config', 'train_dataset', 'model_class', 'kernel_config', 'quant_config'];
const LORA_LENS_METHODS = new Set(['full', 'lora', 'qlora']);

/**
 * Which dialect a config is written in: a first-line modeline (`# lora-lens: dialect=axolotl`) first, then the
 * `dialects` setting (glob → dialect), then the top-level key signatures, then our file names. Files recognised as
 * torchtune recipes, LLaMA-Factory's experimental v1 dialect or launcher configs come back with `notChecked`.
 * Given text, it looks only at the top-level keys of the first 64 KB (cheap enough to decide whether to claim a
 * document); given a parsed document, it uses the parsed keys.
 */
export function detectDialect(input: string | ConfigDocument, path: string | null, settings?: DialectSettings): DialectMatch {
  const text = typeof input === 'string' ? input : input.text;
  const firstLine = text.split(/\r\n|\r|\n/, 1)[0] ?? '';
  const sketch = typeof input === 'string' || input.value === undefined ? sketchTopLevel(text) : sketchFromValue(input.value, firstLine);

  const modeline = MODELINE.exec(firstLine);
  if (modeline) {
    const named = modeline[1]!.toLowerCase() as DialectId;
    if (!DIALECT_IDS.includes(named)) {
      return { dialect: null, source: 'modeline', notChecked: `The modeline names dialect \`${modeline[1]}\`; LoRA Lens knows ${DIALECT_IDS.map((d) => `\`${d}\``).join(', ')}.` };
    }
    return withSubKind({ dialect: named, source: 'modeline' }, sketch);
  }
  const fromSetting = settingDialect(path, settings);
  if (fromSetting) return withSubKind({ dialect: fromSetting, source: 'setting' }, sketch);
  return matchByKeys(sketch, path);
}

function settingDialect(path: string | null, settings: DialectSettings | undefined): DialectId | undefined {
  if (!path || !settings?.dialects) return undefined;
  const normalized = path.replace(/\\/g, '/');
  for (const [glob, dialect] of Object.entries(settings.dialects)) {
    if (DIALECT_IDS.includes(dialect) && matchesGlob(glob, normalized)) return dialect;
  }
  return undefined;
}

function has(sketch: TopLevelSketch, key: string): boolean {
  return sketch.keys.has(key);
}

/** The key signatures, measured on the corpus so that no file matches two. */
function matchByKeys(sketch: TopLevelSketch, path: string | null): DialectMatch {
  const candidates: DialectId[] = [];
  if (has(sketch, 'model') && LORA_LENS_METHODS.has(sketch.keys.get('method') ?? '')) candidates.push('lora-lens');
  if (has(sketch, 'base_model') && AXOLOTL_ANY.some((key) => has(sketch, key))) candidates.push('axolotl');
  if (has(sketch, 'model_name_or_path') && LLAMA_FACTORY_ANY.some((key) => has(sketch, key))) candidates.push('llama-factory');
  const torchtune = sketch.componentKeys.size > 0;

  if (candidates.length > 1 || (candidates.length === 1 && torchtune)) {
    const names = [...candidates, ...(torchtune ? ['torchtune'] : [])].join(' and ');
    return { dialect: null, source: 'keys', notChecked: `This file has the top-level keys of ${names}; add \`# lora-lens: dialect=...\` as its first line to say which it is.` };
  }
  if (candidates[0] === 'llama-factory' && isEvaluationConfig(sketch)) {
    return { dialect: null, source: 'keys', notChecked: 'A LLaMA-Factory evaluation config (`llamafactory-cli eval`: `task`, `n_shot`): LoRA Lens checks its training, inference and export configs.' };
  }
  if (candidates.length === 1) return withSubKind({ dialect: candidates[0]!, source: 'keys' }, sketch);
  const excluded = notCheckedReason(sketch);
  if (excluded) return { dialect: null, source: 'keys', notChecked: excluded };
  if (path && isConfigFile(path, sketch.firstLine, { files: [] })) return { dialect: 'lora-lens', source: 'file-name' };
  return { dialect: null, source: 'none' };
}

/** `llamafactory-cli eval` parses its own argument group (a benchmark `task`, `n_shot`, `lang`, ...). */
function isEvaluationConfig(sketch: TopLevelSketch): boolean {
  return has(sketch, 'task') && ['n_shot', 'lang', 'task_dir', 'save_dir'].some((key) => has(sketch, key)) && !has(sketch, 'do_train');
}

function notCheckedReason(sketch: TopLevelSketch): string | undefined {
  if (sketch.componentKeys.size > 0) {
    return `A torchtune recipe config (\`${[...sketch.componentKeys][0]}._component_\`): LoRA Lens does not check torchtune configs.`;
  }
  const model = sketch.keys.get('model');
  if (model && !has(sketch, 'method') && LLAMA_FACTORY_V1_ANY.some((key) => has(sketch, key))) {
    return "LLaMA-Factory's experimental v1 dialect (run with `USE_V1=1`): LoRA Lens checks the classic flat dialect only.";
  }
  if (has(sketch, 'compute_environment') || has(sketch, 'distributed_type')) {
    return 'An accelerate launcher config (`compute_environment`/`distributed_type`): it configures the launch, not the training, so LoRA Lens does not check it.';
  }
  if (has(sketch, 'zero_optimization') || has(sketch, 'train_micro_batch_size_per_gpu')) {
    return 'A DeepSpeed config (`zero_optimization`): the training config that names it is the one LoRA Lens checks.';
  }
  return undefined;
}

function withSubKind(match: DialectMatch, sketch: TopLevelSketch): DialectMatch {
  if (match.dialect !== 'llama-factory') return match;
  return { ...match, subKind: llamaFactorySubKind(sketch) };
}

/** `do_train`/`stage` means `llamafactory-cli train`; `export_dir` means export; anything else is an inference config. */
function llamaFactorySubKind(sketch: TopLevelSketch): SubKind {
  if (has(sketch, 'do_train') || has(sketch, 'stage')) return 'train';
  if (has(sketch, 'export_dir')) return 'export';
  return 'inference';
}
