/**
 * The plan contract on the TypeScript side: every plan.json we write is checked against `schemas/plan.schema.json`
 * (compiled once), the same file the trainer checks what it reads against (trainer/lora_lens_trainer/plan.py).
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import planSchema from '../../../../schemas/plan.schema.json';
import type { TrainingPlan } from './types';

let validator: ValidateFunction | undefined;

function planValidator(): ValidateFunction {
  validator ??= new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true }).compile(planSchema);
  return validator;
}

/** `training.learning_rate`, `lora.target_modules[0]`: the dotted key both languages name in their messages. */
export function dottedKey(instancePath: string, child?: string): string {
  const segments = instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (child !== undefined) segments.push(child);
  return segments.reduce((key, s) => (/^\d+$/.test(s) ? `${key}[${s}]` : key ? `${key}.${s}` : s), '') || 'plan';
}

/** The `if` of a cross-field rule in words ('method is "full"'), for errors raised by its `then`. */
function conditionOf(schemaPath: string): string | null {
  const index = /^#\/allOf\/(\d+)\/then\//.exec(schemaPath)?.[1];
  if (index === undefined) return null;
  const rule = (planSchema.allOf as { if: { properties: Record<string, { const?: unknown }> } }[])[Number(index)];
  const consts = Object.entries(rule?.if.properties ?? {})
    .filter(([, s]) => 'const' in s)
    .map(([k, s]) => `${k} is ${JSON.stringify(s.const)}`);
  return consts.join(' and ') || null;
}

function describe(error: ErrorObject): string {
  const condition = conditionOf(error.schemaPath);
  return condition ? `${describeKeyword(error)} (when ${condition})` : describeKeyword(error);
}

/** The alternatives of an anyOf in words, as the Python checker says them: enum values, else types. */
function formsOf(options: Array<{ enum?: unknown[]; type?: string | string[]; items?: { type?: string } }>): string {
  return options
    .map((o) => {
      if (o.enum) return o.enum.map((v) => JSON.stringify(v)).join(' or ');
      if (o.type === 'array' && o.items?.type) return `a list of ${o.items.type}s`;
      return Array.isArray(o.type) ? o.type.join(' or ') : (o.type ?? 'a value');
    })
    .join('; ');
}

function describeKeyword(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'anyOf')
    return `${dottedKey(error.instancePath)}: ${JSON.stringify(error.data)} is none of: ${formsOf(error.schema as [])}`;
  if (error.keyword === 'additionalProperties')
    return `${dottedKey(error.instancePath, String(params.additionalProperty))}: not a plan key`;
  if (error.keyword === 'required') return `${dottedKey(error.instancePath, String(params.missingProperty))}: missing`;
  if (error.keyword === 'enum')
    return `${dottedKey(error.instancePath)}: must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  return `${dottedKey(error.instancePath)}: ${error.message ?? error.keyword}`;
}

/**
 * Every way `value` breaks the plan schema, one 'key: problem' line each, sorted; empty when it conforms. An anyOf
 * is one problem (its branches' own errors are dropped) and ajv's `if` wrapper is dropped beside its `then` error:
 * the same lines the Python checker gives.
 */
export function planErrors(value: unknown): string[] {
  const validate = planValidator();
  if (validate(value)) return [];
  const all = validate.errors ?? [];
  const anyOfs = all.filter((e) => e.keyword === 'anyOf').map((e) => `${e.schemaPath}/`);
  const errors = all.filter((e) => e.keyword !== 'if' && !anyOfs.some((prefix) => e.schemaPath.startsWith(prefix)));
  return [...new Set(errors.map(describe))].sort();
}

/**
 * Null when `plan` conforms to schemas/plan.schema.json, else a message naming each wrong key. A plan the normaliser
 * built that fails is a bug in it, not in the user's config: the message says so.
 */
export function invalidPlanMessage(plan: TrainingPlan): string | null {
  const problems = planErrors(plan);
  if (problems.length === 0) return null;
  return `internal error: the plan does not match schemas/plan.schema.json, so no run was started (please report this with your config):\n  ${problems.join('\n  ')}`;
}

/** Throws `invalidPlanMessage` unless `plan` conforms to schemas/plan.schema.json. */
export function assertValidPlan(plan: TrainingPlan): void {
  const message = invalidPlanMessage(plan);
  if (message) throw new Error(message);
}
