import Ajv, { type Options, type ValidateFunction } from 'ajv';
import schemaJson from '../../../../schemas/finetune.schema.json';

/** The ajv options of the config validator; scripts/build.mjs compiles the same ones ahead of time. */
export const CONFIG_VALIDATOR_OPTIONS: Options = {
  allErrors: true,
  strict: true,
  strictTypes: false,
  allowUnionTypes: true,
  verbose: true,
};

/** An ajv instance set up for schemas/finetune.schema.json; `extra` adds build-time options (`code.source`). */
export function configAjv(extra: Options = {}): Ajv {
  const ajv = new Ajv({ ...CONFIG_VALIDATOR_OPTIONS, ...extra });
  ajv.addKeyword('markdownDescription');
  return ajv;
}

/**
 * Compiles the config validator. From source (the tests) this runs ajv; the bundles replace this module with the
 * validator ajv generated at build time (scripts/build.mjs), so `lora-lens check` pays no schema compile on start.
 */
export function compileConfigValidator(): ValidateFunction {
  return configAjv().compile(schemaJson);
}
