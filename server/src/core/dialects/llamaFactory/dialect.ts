/** LLaMA-Factory's language service: validation as LLaMA-Factory judges a file (per command), its plan, its schema. */
import { toolOwnsSpot } from '../axolotl/dialect';
import type { DialectImplementation } from '../dialect';
import { llamaFactoryToPlan } from '../normalize/llamaFactory';
import { withToolSharding } from '../normalize/toolSharding';
import { LLAMA_FACTORY_SCHEMA } from './schema';
import { validateLlamaFactory } from './validate';

export const LLAMA_FACTORY_IMPLEMENTATION: DialectImplementation = {
  validate: (doc, context, options) =>
    validateLlamaFactory(doc, context.subKind ?? 'train', options.configDir, options),
  ownsSpot: toolOwnsSpot,
  normalize: (doc, configPath, context, options) =>
    withToolSharding(
      llamaFactoryToPlan(
        doc,
        configPath,
        context.subKind === 'inference' || context.subKind === 'export' ? context.subKind : 'train',
        options,
      ),
      doc,
      configPath,
      { tool: 'LLaMA-Factory' },
    ),
  schema: LLAMA_FACTORY_SCHEMA,
};
