/**
 * The plan contract on the TypeScript side: every plan.json we write is checked against `schemas/plan.schema.json`
 * (compiled once), the same file the trainer checks what it reads against (trainer/lora_lens_trainer/plan.py).
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import planSchema from '../../../schemas/plan.schema.json';
import type { TrainingPlan } from './types';

let validator: ValidateFunction | undefined;

function planValidator(): ValidateFunction {
  validator ??= new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(planSchema);
  return validator;
}

/** `training.learning_rate`, `lora.target_modules[0]`: the dotted key both languages name in their messages. */
export function dottedKey(instancePath: string, child?: string): string {
  const segments = instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (child !== undefined) segments.push(child);
  return segments.reduce((key, s) => (/^\d+$/.test(s) ? `${key}[${s}]` : key ? `${key}.${s}` : s), '') || 'plan';
}

function describe(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'additionalProperties') return `${dottedKey(error.instancePath, String(params.additionalProperty))}: not a plan key`;
  if (error.keyword === 'required') return `${dottedKey(error.instancePath, String(params.missingProperty))}: missing`;
  if (error.keyword === 'enum') return `${dottedKey(error.instancePath)}: must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  return `${dottedKey(error.instancePath)}: ${error.message ?? error.keyword}`;
}

/**
 * Every way `value` breaks the plan schema, one 'key: problem' line each, sorted; empty when it conforms. The
 * `if`/`anyOf` wrappers ajv reports beside the specific error are dropped (the specific one names the key).
 */
export function planErrors(value: unknown): string[] {
  const validate = planValidator();
  if (validate(value)) return [];
  const errors = (validate.errors ?? []).filter((e) => e.keyword !== 'if');
  return [...new Set(errors.map(describe))].sort();
}

/** Throws, naming each wrong key, unless `plan` conforms to schemas/plan.schema.json: a bug in the normaliser, not the user's config. */
export function assertValidPlan(plan: TrainingPlan): void {
  const problems = planErrors(plan);
  if (problems.length > 0) {
    throw new Error(`internal error: the plan does not match schemas/plan.schema.json (please report this with your config):\n  ${problems.join('\n  ')}`);
  }
}
