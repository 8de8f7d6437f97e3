import type { ArchFamily } from '../models';
import type { Rule } from './types';
import { anchor, setFix } from './util';

/** The families each named template (schema: data.chat_template) was written for; chatml and zephyr are generic. */
const TEMPLATES: Record<string, { families: ArchFamily[]; generic: boolean }> = {
  chatml: { families: ['qwen2', 'qwen3'], generic: true },
  zephyr: { families: [], generic: true },
  llama3: { families: ['llama'], generic: false },
  mistral: { families: ['mistral', 'mixtral'], generic: false },
  gemma: { families: ['gemma', 'gemma2', 'gemma3'], generic: false },
  phi3: { families: ['phi3'], generic: false },
  qwen2: { families: ['qwen2', 'qwen3'], generic: false },
};

/** The named template to propose for a family's base model. */
const FAMILY_TEMPLATE: Record<ArchFamily, string> = {
  llama: 'llama3', mistral: 'mistral', mixtral: 'mistral', qwen2: 'qwen2', qwen3: 'chatml', gemma: 'gemma', gemma2: 'gemma', gemma3: 'gemma', phi3: 'phi3',
};

export const chatTemplate: Rule = {
  id: 'chat-template',
  severity: 'warning',
  summary: 'Chat data with a base model that has no chat template, or a named template of another model family.',
  check({ doc, plan, model }) {
    if (plan.data.format !== 'chat' || !model?.ok) return [];
    const spec = model.spec;
    const template = plan.data.chat_template;
    const path = ['data', 'chat_template'];
    // Llama 2 has no named template here; its base models get the generic chatml.
    const proposal = spec.family === 'llama' && spec.vocabSize < 100_000 ? 'chatml' : FAMILY_TEMPLATE[spec.family];
    if (template === 'auto') {
      if (spec.chatTemplate) return [];
      return [{
        range: anchor(doc, path, ['data', 'format']),
        message: `${spec.id} is a base model: its tokenizer has no chat template, so \`chat_template: auto\` has nothing to apply (transformers raises "tokenizer.chat_template is not set"). Name a template (\`${proposal}\`), or start from the instruct variant.`,
        fixes: [setFix(path, proposal)],
      }];
    }
    // Inline Jinja or a name we do not know: nothing to compare.
    const named = TEMPLATES[template];
    if (!named || named.families.includes(spec.family)) return [];
    if (spec.chatTemplate) {
      return [{
        range: anchor(doc, path),
        message: `chat_template \`${template}\` is not the template ${spec.id} was tuned with: the model learns new turn markers on top of its own, and generation comes out garbled while the loss looks fine. Use \`auto\` (the tokenizer's own).`,
        fixes: [setFix(path, 'auto')],
      }];
    }
    // A base model learns a generic template from scratch; a family-specific one brings foreign special tokens.
    if (named.generic) return [];
    return [{
      range: anchor(doc, path),
      message: `chat_template \`${template}\` belongs to another model family than ${spec.id} (${spec.family}): its special tokens are not in this vocabulary and get split into pieces, so turns are garbled while the loss looks fine. Use \`${proposal}\`.`,
      fixes: [setFix(path, proposal)],
    }];
  },
};
