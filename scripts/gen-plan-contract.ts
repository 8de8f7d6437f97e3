/**
 * Writes the plan contract from its one source, server/src/core/plan/types.ts:
 *   - schemas/plan.schema.json: the TrainingPlan as a draft-07 schema (types, enums, nullability, no extra keys),
 *     bounds and integer-ness taken from the config schema's key of the same path, cross-field rules below;
 *   - trainer/tests/fixtures/plans/<method>.plan.json: plans the TypeScript normaliser builds, which the trainer's
 *     tests start from (trainer/tests/plans.py) instead of a hand-copied plan.
 * Run `npx tsx scripts/gen-plan-contract.ts` after editing types.ts, defaults.ts or the config schema and commit what
 * it writes; test/plan/contract.test.ts fails while the committed files differ from what this writes.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { buildPlan } from '../server/src/core/analysis/buildPlan';
import type { TrainingPlan } from '../server/src/core/plan/types';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Schema = { [key: string]: Json };

const ROOT = join(__dirname, '..');
export const TYPES_FILE = join(ROOT, 'server', 'src', 'core', 'plan', 'types.ts');
const CONFIG_SCHEMA_FILE = join(ROOT, 'schemas', 'finetune.schema.json');
export const PLAN_SCHEMA_FILE = join(ROOT, 'schemas', 'plan.schema.json');
export const PLAN_FIXTURE_DIR = join(ROOT, 'trainer', 'tests', 'fixtures', 'plans');

/** POSIX (`/x`), drive (`C:\x`, `C:/x`) or UNC (`\\host\x`): the forms Node's `path.resolve` returns. */
const ABSOLUTE_PATH_PATTERN = '^(/|[A-Za-z]:[\\\\/]|\\\\\\\\)';
/** An absolute path, or a dataset reference with a URL scheme (`hf://datasets/…`: dialects/normalize/datasetRef.ts). */
const ABSOLUTE_PATH_OR_REFERENCE_PATTERN = '^(/|[A-Za-z]:[\\\\/]|\\\\\\\\|[a-z][a-z0-9+.-]+://)';

/** Config-schema keywords a plan key inherits: the bounds the normaliser's input already obeys. */
const INHERITED = [
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'minItems',
  'uniqueItems',
];

/** What the TrainingPlan type cannot say: which method carries which section (`required`: a plan without a method gets one error). */
const sections = (method: string, lora: string, quantization: string): Schema => ({
  if: { required: ['method'], properties: { method: { const: method } } },
  then: { properties: { lora: { type: lora }, quantization: { type: quantization } } },
});
const CROSS_FIELD_RULES: Schema[] = [
  sections('full', 'null', 'null'),
  sections('lora', 'object', 'null'),
  sections('qlora', 'object', 'object'),
];

/** Plan-only numbers (no config key to inherit integer-ness and bounds from): the layers `auto` checkpoints. */
const PLAN_ONLY_NUMBERS: Record<string, Schema> = {
  'training.checkpoint_layers': { type: 'integer', minimum: 0, maximum: 100000 },
};

class TypeReader {
  private readonly declarations = new Map<string, ts.InterfaceDeclaration | ts.TypeAliasDeclaration>();

  constructor(
    private readonly source: ts.SourceFile,
    private readonly config: Schema,
  ) {
    for (const statement of source.statements) {
      if (ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement))
        this.declarations.set(statement.name.text, statement);
    }
  }

  schemaOf(name: string): Schema {
    return this.declared(name, []);
  }

  private declared(name: string, path: string[]): Schema {
    const declaration = this.declarations.get(name);
    if (!declaration)
      throw new Error(`types.ts: ${name} is not declared in the file (the generator reads types.ts alone)`);
    return ts.isInterfaceDeclaration(declaration) ? this.object(declaration, path) : this.type(declaration.type, path);
  }

  private object(declaration: ts.InterfaceDeclaration, path: string[]): Schema {
    const properties: Schema = {};
    const required: string[] = [];
    for (const member of declaration.members) {
      if (!ts.isPropertySignature(member) || !member.type)
        throw new Error(`types.ts: ${declaration.name.text} has a member the generator cannot read`);
      const key = member.name.getText(this.source);
      const description = ts
        .getJSDocCommentsAndTags(member)
        .filter(ts.isJSDoc)
        .map((doc) => ts.getTextOfJSDocComment(doc.comment) ?? '')
        .join(' ')
        .replace(/\s+/g, ' ')
        .trim();
      const schema: Schema = { ...(description ? { description } : {}), ...this.type(member.type, [...path, key]) };
      if (ts.getJSDocTags(member).some((tag) => tag.tagName.text === 'absolutePath'))
        schema.pattern = ABSOLUTE_PATH_PATTERN;
      if (ts.getJSDocTags(member).some((tag) => tag.tagName.text === 'absolutePathOrReference'))
        schema.pattern = ABSOLUTE_PATH_OR_REFERENCE_PATTERN;
      properties[key] = schema;
      if (!member.questionToken) required.push(key);
    }
    return { type: 'object', additionalProperties: false, required, properties };
  }

  private type(node: ts.TypeNode, path: string[]): Schema {
    if (ts.isParenthesizedTypeNode(node)) return this.type(node.type, path);
    if (ts.isUnionTypeNode(node))
      return this.union(
        node.types.map((t) => this.type(t, path)),
        path,
      );
    if (ts.isArrayTypeNode(node))
      return this.withConfigBounds({ type: 'array', items: this.type(node.elementType, [...path, '[]']) }, path);
    if (ts.isLiteralTypeNode(node)) {
      if (node.literal.kind === ts.SyntaxKind.NullKeyword) return { type: 'null' };
      if (ts.isStringLiteral(node.literal)) return { type: 'string', enum: [node.literal.text] };
      if (ts.isNumericLiteral(node.literal)) return { const: Number(node.literal.text) };
    }
    if (node.kind === ts.SyntaxKind.StringKeyword) return this.withConfigBounds({ type: 'string' }, path);
    if (node.kind === ts.SyntaxKind.BooleanKeyword) return { type: 'boolean' };
    if (node.kind === ts.SyntaxKind.NumberKeyword) {
      const planOnly = PLAN_ONLY_NUMBERS[path.join('.')];
      if (planOnly) return { ...planOnly };
      return this.withConfigBounds(
        { type: configNode(this.config, path)?.type === 'integer' ? 'integer' : 'number' },
        path,
      );
    }
    if (ts.isTypeReferenceNode(node) && ts.isIdentifier(node.typeName) && !node.typeArguments)
      return this.declared(node.typeName.text, path);
    throw new Error(`types.ts: ${path.join('.')}: the generator has no rule for \`${node.getText(this.source)}\``);
  }

  /** String literals merge into one enum; `X | null` keeps X's keywords and adds null to its type (and enum). */
  private union(members: Schema[], path: string[]): Schema {
    const nullable = members.some((m) => m.type === 'null' && Object.keys(m).length === 1);
    const rest = members.filter((m) => !(m.type === 'null' && Object.keys(m).length === 1));
    let schema: Schema;
    if (rest.every((m) => m.type === 'string' && Array.isArray(m.enum))) {
      schema = { type: 'string', enum: rest.flatMap((m) => m.enum as Json[]) };
      checkEnumAgainstConfig(schema.enum as string[], this.config, path);
    } else if (rest.length === 1) {
      schema = { ...rest[0]! };
    } else {
      return { anyOf: nullable ? [...rest, { type: 'null' }] : rest };
    }
    if (!nullable) return schema;
    if (Array.isArray(schema.enum)) schema.enum = [...schema.enum, null];
    schema.type = [schema.type as string, 'null'];
    return schema;
  }

  private withConfigBounds(schema: Schema, path: string[]): Schema {
    const node = configNode(this.config, path);
    if (!node) return schema;
    const sources = Array.isArray(node.anyOf) ? (node.anyOf as Schema[]).filter((b) => b.type === schema.type) : [node];
    for (const source of sources) for (const key of INHERITED) if (key in source) schema[key] = source[key]!;
    return schema;
  }
}

/** The config schema's node for a plan path (object branches of anyOf followed; `[]` is an array's items). */
function configNode(config: Schema, path: string[]): Schema | undefined {
  let node: Schema | undefined = config;
  for (const segment of path) {
    if (!node) return undefined;
    if (segment === '[]') {
      const arrays: Schema[] = Array.isArray(node.anyOf)
        ? (node.anyOf as Schema[]).filter((b) => b.type === 'array')
        : [node];
      node = arrays[0]?.items as Schema | undefined;
      continue;
    }
    const objects: Schema[] = Array.isArray(node.anyOf)
      ? (node.anyOf as Schema[]).filter((b) => b.type === 'object')
      : [node];
    node = (objects[0]?.properties as Schema | undefined)?.[segment] as Schema | undefined;
  }
  return node;
}

/** A plan enum that drifted from the config's enum for the same key would let one side accept what the other refuses. */
function checkEnumAgainstConfig(values: string[], config: Schema, path: string[]): void {
  const node = configNode(config, path);
  if (!node || !Array.isArray(node.enum)) return;
  const theirs = new Set(node.enum as string[]);
  if (theirs.size !== values.length || values.some((v) => !theirs.has(v))) {
    throw new Error(
      `types.ts: ${path.join('.')} allows ${JSON.stringify(values)} but the config schema ${JSON.stringify(node.enum)}; make them agree`,
    );
  }
}

/** The plan schema, generated from types.ts and schemas/finetune.schema.json (or the texts given, for tests). */
export function planSchema(
  typesText = readFileSync(TYPES_FILE, 'utf8'),
  config = JSON.parse(readFileSync(CONFIG_SCHEMA_FILE, 'utf8')) as Schema,
): Schema {
  const source = ts.createSourceFile(TYPES_FILE, typesText, ts.ScriptTarget.ES2022, true);
  const plan = new TypeReader(source, config).schemaOf('TrainingPlan');
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://lora-lens.dev/schemas/plan.schema.json',
    title: 'LoRA Lens TrainingPlan (plan.json, version 1)',
    description:
      'Generated from server/src/core/plan/types.ts by scripts/gen-plan-contract.ts; edit those, not this file. ' +
      'Written by the TypeScript side with every default applied and every path absolute; read by trainer/lora_lens_trainer/plan.py.',
    ...plan,
    allOf: CROSS_FIELD_RULES,
  };
}

/**
 * The configs behind the trainer's plan fixtures: the values the trainer tests have always used (a small rank, short
 * samples, one epoch, a log line per step), set in a config so the normaliser, not a hand-copy, makes the plan.
 */
const FIXTURE_CONFIG = (method: string) => `model: /models/tiny
method: ${method}
data:
  train: /data/train.jsonl
  max_length: 256
${method === 'full' ? '' : 'lora: {r: 8, lora_alpha: 16, lora_dropout: 0}\n'}training:
  per_device_train_batch_size: 4
  per_device_eval_batch_size: 4
  num_train_epochs: 1
  logging_steps: 1
output:
  dir: /tmp/out
`;

/** The plans the trainer's tests start from, one per method, built by the normaliser. */
export function planFixtures(): Record<string, TrainingPlan> {
  const out: Record<string, TrainingPlan> = {};
  for (const method of ['full', 'lora', 'qlora']) {
    const { plan, diagnostics } = buildPlan(FIXTURE_CONFIG(method), '/tmp/config.finetune.yaml');
    if (!plan || diagnostics.length > 0)
      throw new Error(`fixture config for ${method} is invalid: ${diagnostics.map((d) => d.message).join('; ')}`);
    // Fixed POSIX paths on every platform: the trainer tests replace them anyway.
    out[method] = {
      ...plan,
      config_path: '/tmp/config.finetune.yaml',
      data: { ...plan.data, train: '/data/train.jsonl' },
      output: { ...plan.output, dir: '/tmp/out' },
    };
  }
  return out;
}

export const asJsonText = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

if (require.main === module) {
  writeFileSync(PLAN_SCHEMA_FILE, asJsonText(planSchema()));
  mkdirSync(PLAN_FIXTURE_DIR, { recursive: true });
  for (const [method, plan] of Object.entries(planFixtures()))
    writeFileSync(join(PLAN_FIXTURE_DIR, `${method}.plan.json`), asJsonText(plan));
  console.log(`wrote ${PLAN_SCHEMA_FILE} and ${PLAN_FIXTURE_DIR}/{full,lora,qlora}.plan.json`);
}
