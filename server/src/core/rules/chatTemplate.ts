import type { ArchFamily } from '../models';
import { closestMatch } from '../text/suggest';
import { TRAINER_CAPABILITIES, runsOnBundledTrainer, type NamedTemplateCapability } from './trainerCapabilities';
import type { Finding, Rule, RuleInput } from './types';
import { anchor, key, leaf, setFix } from './util';

const TEMPLATE = leaf('data.chat_template');

/**
 * The named templates (data.chat_template), by name: the bundled trainer's, from its capabilities file, with the
 * families whose vocabulary holds their special tokens. Every name proposed below is one of them (a test checks).
 */
const TEMPLATES: Record<string, NamedTemplateCapability> = TRAINER_CAPABILITIES.chat_templates;

/** The named template to propose for a family's base model. */
export const FAMILY_TEMPLATE: Record<ArchFamily, string> = {
  llama: 'llama3',
  mistral: 'mistral',
  mixtral: 'mistral',
  qwen2: 'qwen2',
  qwen3: 'chatml',
  gemma: 'gemma',
  gemma2: 'gemma',
  gemma3: 'gemma',
  phi3: 'phi3',
  // No named template of the bundled trainer carries these families' own tokens: the generic ChatML, learned as text.
  falcon: 'chatml',
  starcoder2: 'chatml',
  internlm2: 'chatml',
  olmo: 'chatml',
  olmo2: 'chatml',
  glm: 'chatml',
  glm4: 'chatml',
  phi: 'chatml',
  deepseek_v2: 'chatml',
};

/** The proposal for a model: Llama 2's vocabulary (32k) has no Llama 3 header tokens, Qwen2.5 ships its own default system prompt. */
export function proposedTemplate(family: ArchFamily, modelId: string, vocabSize: number): string {
  if (family === 'llama' && vocabSize < 100_000) return 'llama2';
  if (family === 'qwen2' && /qwen2\.5/i.test(modelId)) return 'qwen2.5';
  return FAMILY_TEMPLATE[family];
}

const isJinja = (text: string) => text.includes('{%') || text.includes('{{');

export const chatTemplate: Rule = {
  id: 'chat-template',
  severity: 'warning',
  summary:
    'Chat data with a base model that has no chat template, a template name the trainer does not know, or a named template of another model family.',
  check(input) {
    const { doc, plan, model } = input;
    if (plan.data.format !== 'chat') return [];
    const template = plan.data.chat_template;
    const path = ['data', 'chat_template'];
    const bundled = runsOnBundledTrainer(input);
    if (bundled && template !== 'auto' && !TEMPLATES[template] && !isJinja(template)) {
      const names = Object.keys(TEMPLATES);
      const near = closestMatch(template, names);
      const proposal =
        near ?? (model?.ok ? proposedTemplate(model.spec.family, model.spec.id, model.spec.vocabSize) : 'chatml');
      return [
        {
          range: anchor(doc, path),
          severity: 'error',
          message: `${TEMPLATE} \`${template}\` is not a template the bundled trainer knows: it stops at start. Use \`auto\` (the tokenizer's own), one of ${names.map((n) => `\`${n}\``).join(', ')}, or inline Jinja.`,
          fixes: [setFix(path, proposal)],
          data: { known: names },
        },
      ];
    }
    const named = TEMPLATES[template];
    // The dataset inspection does not count system turns yet: said whenever such a template is named.
    const findings = familyFindings(input, template, named);
    if (bundled && named?.system_role === 'refused') {
      findings.push({
        range: anchor(doc, path),
        message: `${TEMPLATE} \`${template}\` has no system role (as ${named.source}'s own template): the bundled trainer refuses a row with a system turn at start. If ${key('data.train')} has system turns, fold them into the first user turn, or use a template with a system role.`,
        data: { systemRole: 'refused' },
      });
    }
    return findings;
  },
};

/** What the template and the model say about each other: a base model without one, another family's template. */
function familyFindings(
  { doc, model }: RuleInput,
  template: string,
  named: NamedTemplateCapability | undefined,
): Finding[] {
  const path = ['data', 'chat_template'];
  if (!model?.ok) return [];
  const spec = model.spec;
  const proposal = proposedTemplate(spec.family, spec.id, spec.vocabSize);
  if (template === 'auto') {
    if (spec.chatTemplate) return [];
    return [
      {
        range: anchor(doc, path, ['data', 'format']),
        message: `${spec.id} is a base model: its tokenizer has no chat template, so \`${TEMPLATE}: auto\` has nothing to apply (transformers raises "tokenizer.chat_template is not set"). Name a template (\`${proposal}\`), or start from the instruct variant.`,
        fixes: [setFix(path, proposal)],
      },
    ];
  }
  // Inline Jinja, or (for another tool's config) a name we do not know: nothing to compare.
  if (!named || named.families.includes(spec.family)) return [];
  if (spec.chatTemplate) {
    return [
      {
        range: anchor(doc, path),
        message: `${TEMPLATE} \`${template}\` is not the template ${spec.id} was tuned with: the model learns new turn markers on top of its own, and generation comes out garbled while the loss looks fine. Use \`auto\` (the tokenizer's own).`,
        fixes: [setFix(path, 'auto')],
      },
    ];
  }
  // A base model learns a generic template from scratch; a family-specific one brings foreign special tokens.
  if (named.generic) return [];
  return [
    {
      range: anchor(doc, path),
      message: `${TEMPLATE} \`${template}\` belongs to another model family than ${spec.id} (${spec.family}): its special tokens are not in this vocabulary and get split into pieces, so turns are garbled while the loss looks fine. Use \`${proposal}\`.`,
      fixes: [setFix(path, proposal)],
    },
  ];
}
