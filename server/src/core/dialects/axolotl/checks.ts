import { closestMatch } from '../../text/suggest';
import type { DialectReport } from '../report';
import { setFix } from '../report';
import type { ConfigEdit, QuickFix } from '../../edits/types';

type Config = Record<string, unknown>;

const stops = 'axolotl stops before training';

function set(value: unknown): boolean {
  return value !== undefined && value !== null && value !== false && value !== '';
}

/**
 * The checks axolotl itself makes before it loads anything (its pydantic validators), each reported where the
 * config says it: the run would end there with a ValueError.
 */
export function checkAxolotlRules(report: DialectReport, config: Config): void {
  checkQuantizedBase(report, config);
  checkWarmup(report, config);
  checkRequired(report, config);
  checkAdapterName(report, config);
  checkSafetensors(report, config);
  checkTargetParametersDropout(report, config);
  checkDatasetTypes(report, config);
  checkEvalSplit(report, config);
}

/** QLoRA's 4-bit base ("Can't load qlora in 8bit", "Require cfg.load_in_4bit to be True for qlora"); a quantized base needs an adapter. */
function checkQuantizedBase(report: DialectReport, config: Config): void {
  const adapter = config.adapter;
  if (adapter === 'qlora' && !set(config.merge_lora)) {
    if (config.load_in_8bit === true) {
      report.atValue(
        ['load_in_8bit'],
        'error',
        'axolotl-qlora-8bit',
        `${stops}: \`adapter: qlora\` loads the base in 4 bits, not with \`load_in_8bit\` ("Can't load qlora in 8bit"). Use \`load_in_4bit: true\`, or \`adapter: lora\` for an 8-bit base.`,
        {
          fixes: [
            {
              title: 'Use `load_in_4bit: true`',
              edits: [
                { kind: 'remove', path: ['load_in_8bit'] },
                { kind: 'set', path: ['load_in_4bit'], value: true },
              ],
              isPreferred: true,
            },
          ],
        },
      );
    } else if (config.load_in_4bit !== true) {
      report.atValue(
        ['adapter'],
        'error',
        'axolotl-qlora-needs-4bit',
        `${stops}: \`adapter: qlora\` requires \`load_in_4bit: true\` ("Require cfg.load_in_4bit to be True for qlora").`,
        { fixes: [setFix(['load_in_4bit'], true)] },
      );
    }
  }
  if (!set(adapter) && (config.load_in_8bit === true || config.load_in_4bit === true)) {
    const key = config.load_in_4bit === true ? 'load_in_4bit' : 'load_in_8bit';
    report.atValue(
      [key],
      'error',
      'axolotl-quantized-needs-adapter',
      `${stops}: \`${key}: true\` needs an adapter (\`adapter: lora\` or \`qlora\`); a quantized base cannot be fully fine-tuned. Set an adapter, or remove \`${key}\` for full fine-tuning.`,
      {
        fixes: [
          setFix(['adapter'], key === 'load_in_4bit' ? 'qlora' : 'lora'),
          { title: `Remove \`${key}\``, edits: [{ kind: 'remove', path: [key] }] },
        ],
      },
    );
  }
}

/** `warmup_steps` and `warmup_ratio` are mutually exclusive. */
function checkWarmup(report: DialectReport, config: Config): void {
  if (
    config.warmup_steps !== undefined &&
    config.warmup_steps !== null &&
    config.warmup_ratio !== undefined &&
    config.warmup_ratio !== null
  ) {
    report.atKey(
      ['warmup_ratio'],
      'error',
      'axolotl-warmup-both',
      `${stops}: \`warmup_steps\` and \`warmup_ratio\` are mutually exclusive. Keep one.`,
      {
        fixes: [
          { title: 'Remove `warmup_ratio`', edits: [{ kind: 'remove', path: ['warmup_ratio'] }], isPreferred: true },
          { title: 'Remove `warmup_steps`', edits: [{ kind: 'remove', path: ['warmup_steps'] }] },
        ],
      },
    );
  }
}

/** The fields axolotl requires: something to train on, `learning_rate`, `base_model`. */
function checkRequired(report: DialectReport, config: Config): void {
  const adapter = config.adapter;
  if (!set(config.datasets) && !set(config.pretraining_dataset)) {
    report.atKey(
      ['base_model'],
      'error',
      'axolotl-no-datasets',
      `${stops}: there is no \`datasets\` (nor \`pretraining_dataset\`) to train on. Add \`datasets:\` with at least one \`path\` and \`type\`.`,
    );
  }
  if (config.learning_rate === undefined || config.learning_rate === null) {
    report.atKey(
      [],
      'error',
      'axolotl-no-learning-rate',
      `${stops}: \`learning_rate\` is required (pydantic: "Field required"). Typical: 2e-4 for LoRA/QLoRA, 1e-5 for full fine-tuning (write 2.0e-4: see YAML 1.1).`,
      { fixes: [setFix(['learning_rate'], set(adapter) ? 0.0002 : 0.00001)] },
    );
  }
  if (config.base_model === undefined || config.base_model === null) {
    report.atKey(
      [],
      'error',
      'axolotl-no-base-model',
      `${stops}: \`base_model\` is required: the Hub id or folder of the model to fine-tune.`,
    );
  }
}

/** transformers 5 always writes safetensors: `save_safetensors: false` is refused. */
function checkSafetensors(report: DialectReport, config: Config): void {
  if (config.save_safetensors === false) {
    report.atValue(
      ['save_safetensors'],
      'error',
      'axolotl-safetensors-false',
      `${stops}: \`save_safetensors: false\` is refused: transformers 5 always writes safetensors. Remove the key.`,
      {
        fixes: [
          {
            title: 'Remove `save_safetensors`',
            edits: [{ kind: 'remove', path: ['save_safetensors'] }],
            isPreferred: true,
          },
        ],
      },
    );
  }
}

/** PEFT's parameter adapters have no dropout. */
function checkTargetParametersDropout(report: DialectReport, config: Config): void {
  if (set(config.lora_target_parameters) && typeof config.lora_dropout === 'number' && config.lora_dropout !== 0) {
    report.atValue(
      ['lora_dropout'],
      'error',
      'axolotl-target-parameters-dropout',
      `${stops}: with \`lora_target_parameters\`, \`lora_dropout\` must be 0 (PEFT's parameter adapters have no dropout).`,
      { fixes: [setFix(['lora_dropout'], 0)] },
    );
  }
}

/**
 * validation.py check_evals (067b021): an explicit `val_set_size: 0` with `eval_steps` or `eval_strategy` (not `no`)
 * and no `test_datasets` raises: there is nothing to evaluate. An absent val_set_size is not checked there.
 */
function checkEvalSplit(report: DialectReport, config: Config): void {
  if (config.val_set_size !== 0 || set(config.test_datasets) || config.eval_strategy === 'no') return;
  const key = set(config.eval_steps) ? 'eval_steps' : set(config.eval_strategy) ? 'eval_strategy' : undefined;
  if (!key) return;
  report.atValue(
    ['val_set_size'],
    'error',
    'axolotl-eval-without-split',
    `${stops}: \`${key}\` with \`val_set_size: 0\` and no \`test_datasets\` ("eval_steps and eval_strategy are not supported with val_set_size == 0"): nothing is held out to evaluate. Hold out rows (\`val_set_size: 0.05\`), or remove \`${key}\`.`,
    {
      fixes: [setFix(['val_set_size'], 0.05), { title: `Remove \`${key}\``, edits: [{ kind: 'remove', path: [key] }] }],
    },
  );
}

const BUILT_IN_ADAPTERS = ['lora', 'qlora', 'llama-adapter'];

/** Other adapter names exist only when a plugin registers them; without any plugin, axolotl refuses the name. */
function checkAdapterName(report: DialectReport, config: Config): void {
  const adapter = config.adapter;
  if (typeof adapter !== 'string' || !adapter || BUILT_IN_ADAPTERS.includes(adapter)) return;
  if (Array.isArray(config.plugins) && config.plugins.length > 0) return;
  const suggestion = closestMatch(adapter, BUILT_IN_ADAPTERS);
  report.atValue(
    ['adapter'],
    'error',
    'axolotl-adapter-unknown',
    `${stops}: adapter \`${adapter.length > 80 ? `${adapter.slice(0, 77)}...` : adapter}\` is not built in (\`lora\`, \`qlora\`, \`llama-adapter\`) and no plugin is listed that could register it.${suggestion ? ` Did you mean \`${suggestion}\`?` : ''}`,
    suggestion ? { suggestion, fixes: [setFix(['adapter'], suggestion)] } : {},
  );
}

/**
 * `type: sharegpt.*` datasets were removed in axolotl v0.5.0 (#2021, Nov 2024: "remove fastchat and sharegpt");
 * axolotl's validator rejects them with a pointer to `chat_template`. The fix is the migration of axolotl's docs
 * (docs/dataset-formats/conversation.qmd, "Migrating from sharegpt"): ShareGPT rows read through `chat_template`.
 */
function checkDatasetTypes(report: DialectReport, config: Config): void {
  if (!Array.isArray(config.datasets)) return;
  config.datasets.forEach((entry, index) => {
    const dataset = entry !== null && typeof entry === 'object' && !Array.isArray(entry) ? (entry as Config) : {};
    const type = dataset.type;
    if (typeof type === 'string' && type.startsWith('sharegpt')) {
      report.atValue(
        ['datasets', index, 'type'],
        'error',
        'axolotl-sharegpt-removed',
        `${stops}: \`type: ${type}\` was removed in axolotl v0.5.0 (#2021, November 2024; "type: sharegpt.* is deprecated"). Use \`type: chat_template\` with \`field_messages: conversations\` and \`message_property_mappings: {role: from, content: value}\`, which read the same ShareGPT rows.`,
        { fixes: [sharegptMigration(config, dataset, index)] },
      );
    }
  });
}

/** The mechanical migration of one sharegpt dataset entry; a `conversation:` template moves to `chat_template`. */
function sharegptMigration(config: Config, dataset: Config, index: number): QuickFix {
  const at = (key: string) => ['datasets', index, key];
  const edits: ConfigEdit[] = [{ kind: 'set', path: at('type'), value: 'chat_template' }];
  if (dataset.field_messages === undefined)
    edits.push({ kind: 'set', path: at('field_messages'), value: 'conversations' });
  if (dataset.message_property_mappings === undefined)
    edits.push({ kind: 'set', path: at('message_property_mappings'), value: { role: 'from', content: 'value' } });
  if (dataset.conversation !== undefined) {
    edits.push({ kind: 'remove', path: at('conversation') });
    if (config.chat_template === undefined && typeof dataset.conversation === 'string')
      edits.push({ kind: 'set', path: ['chat_template'], value: dataset.conversation });
  }
  return { title: 'Migrate to `type: chat_template` (ShareGPT fields mapped)', edits, isPreferred: true };
}

/** LoRA Lens's own range advice on the values axolotl accepts without a word (origin lora-lens: ours, not axolotl's). */
export function adviseAxolotlRanges(report: DialectReport, config: Config): void {
  const r = Number(config.lora_r);
  if (config.lora_r !== undefined && config.lora_r !== null && Number.isFinite(r) && r < 1) {
    report.atValue(
      ['lora_r'],
      'warning',
      'dialect-advice-range',
      `\`lora_r\` must be at least 1 to train anything; 8-64 is usual.`,
      { origin: 'lora-lens' },
    );
  }
  const dropout = Number(config.lora_dropout);
  if (
    config.lora_dropout !== undefined &&
    config.lora_dropout !== null &&
    Number.isFinite(dropout) &&
    (dropout < 0 || dropout >= 1)
  ) {
    report.atValue(
      ['lora_dropout'],
      'warning',
      'dialect-advice-range',
      `\`lora_dropout\` is a probability below 1; 0.0-0.1 is usual.`,
      { origin: 'lora-lens' },
    );
  }
  const lr = Number(config.learning_rate);
  if (config.learning_rate !== undefined && config.learning_rate !== null && Number.isFinite(lr) && lr <= 0) {
    report.atValue(
      ['learning_rate'],
      'warning',
      'dialect-advice-range',
      `A \`learning_rate\` of ${lr} does not train; use a positive value.`,
      { origin: 'lora-lens' },
    );
  }
}
