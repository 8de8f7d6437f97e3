/** TRL's language service: validation as `trl sft|dpo --config` judges a recipe, its plan, its schema. */
import { toolOwnsSpot } from '../axolotl/dialect';
import type { DialectImplementation } from '../dialect';
import { trlToPlan } from '../normalize/trl';
import { withToolSharding } from '../normalize/toolSharding';
import { TRL_SCHEMA, trlCommand } from './schema';
import { validateTrl } from './validate';

export const TRL_IMPLEMENTATION: DialectImplementation = {
  validate: (doc, context, options) => validateTrl(doc, trlCommand(context.subKind), options.installedVersion),
  ownsSpot: toolOwnsSpot,
  normalize: (doc, configPath, context, options) =>
    withToolSharding(trlToPlan(doc, configPath, trlCommand(context.subKind), options), doc, configPath, {
      tool: 'TRL',
    }),
  schema: TRL_SCHEMA,
};
