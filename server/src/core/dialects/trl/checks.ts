import type { DialectReport } from '../report';
import { removeFix, setFix } from '../report';

type Config = Record<string, unknown>;

/** The loss types each TRL 1.13 trainer accepts (SFTConfig and DPOConfig's help, checked in their trainers). */
const LOSS_TYPES: Record<'sft' | 'dpo', readonly string[]> = {
  sft: ['nll', 'dft', 'chunked_nll'],
  dpo: [
    'sigmoid',
    'hinge',
    'ipo',
    'exo_pair',
    'nca_pair',
    'robust',
    'bco_pair',
    'sppo_hard',
    'aot',
    'aot_unpaired',
    'apo_zero',
    'apo_down',
    'discopop',
    'sft',
    'sigmoid_norm',
  ],
};
/** ModelConfig's LoRA settings: get_peft_config reads them only under `use_peft: true`. */
const LORA_KEYS = [
  'lora_r',
  'lora_alpha',
  'lora_dropout',
  'lora_target_modules',
  'lora_target_parameters',
  'lora_modules_to_save',
  'use_rslora',
  'use_dora',
] as const;

function given(value: unknown): boolean {
  return value !== undefined && value !== null && value !== false;
}

/** The checks of TRL's scripts, dataclasses and trainers that end a run before it trains, and LoRA Lens's advice on keys nothing reads. */
export function checkTrlRules(report: DialectReport, config: Config, command: 'sft' | 'dpo'): void {
  const stops = `\`trl ${command}\` stops before training`;
  if (!given(config.model_name_or_path)) {
    report.atKey(
      [],
      'error',
      'trl-no-model',
      `${stops}: \`model_name_or_path\` is not set (ModelConfig has no default): give the Hub id or folder of the model.`,
    );
  }
  const mixture = Array.isArray(config.datasets) && config.datasets.length > 0;
  if (!given(config.dataset_name) && !mixture) {
    report.atKey(
      [],
      'error',
      'trl-no-dataset',
      `${stops} with "Either \`datasets\` or \`dataset_name\` must be provided.": add \`dataset_name\` (a Hub id or a local path).`,
    );
  }
  if (config.load_in_4bit === true && config.load_in_8bit === true) {
    report.atKey(
      ['load_in_8bit'],
      'error',
      'trl-quantization-conflict',
      `${stops}: "You can't use 8 bit and 4 bit precision at the same time" (ModelConfig). Keep one of \`load_in_4bit\` and \`load_in_8bit\`.`,
      { fixes: [removeFix(['load_in_8bit'])] },
    );
  }
  const quantized = ['load_in_4bit', 'load_in_8bit'].find((key) => config[key] === true);
  if (quantized && config.use_peft !== true) {
    report.atKey(
      [quantized],
      'error',
      'trl-quantized-without-peft',
      `${stops}: transformers' Trainer refuses "fine-tuning on purely quantized models": \`${quantized}: true\` needs a LoRA adapter. Set \`use_peft: true\`.`,
      { fixes: [setFix(['use_peft'], true)] },
    );
  }
  if (config.use_peft !== true) {
    for (const key of LORA_KEYS) {
      if (given(config[key]))
        report.atKey(
          [key],
          'warning',
          'dialect-advice-unused',
          `\`${key}\` has no effect without \`use_peft: true\` (TRL's get_peft_config returns no adapter), so every weight is trained. Set \`use_peft: true\` to train the adapter it describes.`,
          { origin: 'lora-lens', fixes: [setFix(['use_peft'], true), removeFix([key])] },
        );
    }
  }
  checkLossType(report, config.loss_type, command, stops);
}

function checkLossType(report: DialectReport, value: unknown, command: 'sft' | 'dpo', stops: string): void {
  const names =
    typeof value === 'string'
      ? [value]
      : Array.isArray(value)
        ? value.filter((v): v is string => typeof v === 'string')
        : [];
  const allowed = LOSS_TYPES[command];
  if (command === 'sft' && Array.isArray(value)) {
    report.atValue(
      ['loss_type'],
      'error',
      'trl-loss-type',
      `${stops}: \`trl sft\` takes one \`loss_type\` (${allowed.map((l) => `\`${l}\``).join(', ')}), not a list.`,
    );
    return;
  }
  const wrong = names.find((name) => !allowed.includes(name));
  if (!wrong) return;
  const other = command === 'sft' ? 'dpo' : 'sft';
  const hint = LOSS_TYPES[other].includes(wrong) ? ` \`${wrong}\` is a loss of \`trl ${other}\`.` : '';
  report.atValue(
    ['loss_type'],
    'error',
    'trl-loss-type',
    `${stops}: \`trl ${command}\` has no loss type \`${wrong}\`; it has ${allowed.map((l) => `\`${l}\``).join(', ')}.${hint}`,
    { allowed: [...allowed] },
  );
}
