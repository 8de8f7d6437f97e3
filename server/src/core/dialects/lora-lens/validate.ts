import type { Diagnostic } from 'vscode-languageserver-types';
import {
  hasSyntaxError,
  keyRange,
  valueRange,
  type ConfigDocument,
  type NodePath,
} from '../../document/configDocument';
import { makeDiagnostic } from '../../document/diagnostics';
import { getConfigValidator, pathOf, schemaAt, type SchemaError, type SchemaNode } from '../../schema/configSchema';
import { closestMatch } from '../../text/suggest';
import type { QuickFix } from '../../edits/types';
import { lookupGpuName } from '../../gpu';

/** Diagnostic codes of the schema layer; rules use their own ids. */
export const SchemaCode = {
  unknownKey: 'schema-unknown-key',
  missingKey: 'schema-missing-key',
  type: 'schema-type',
  enum: 'schema-enum',
  range: 'schema-range',
  notApplicable: 'schema-not-applicable',
  invalid: 'schema-invalid',
} as const;

/** Payload of schema diagnostics, read by quick fixes. */
export interface SchemaDiagnosticData {
  path: NodePath;
  /** For unknown keys and enums: the closest valid name. */
  suggestion?: string;
  /** For missing keys: the key to add. */
  missing?: string;
  allowed?: unknown[];
  fixes?: QuickFix[];
}

const MAX_SCHEMA_DIAGNOSTICS = 200;

/**
 * Syntax problems and every schema violation, each at the offending key or value. After a syntax error only the
 * parse problems: the structure after it is not what the user meant (one diagnostic per cause).
 */
export function doValidation(doc: ConfigDocument): Diagnostic[] {
  const diagnostics: Diagnostic[] = doc.problems.map((problem) =>
    makeDiagnostic(
      problem.range,
      problem.code === 'yaml-multi-document' ? 'warning' : 'error',
      problem.code,
      problem.message,
    ),
  );
  const value = doc.value;
  if (hasSyntaxError(doc) || value === undefined || typeof value !== 'object' || value === null || Array.isArray(value))
    return diagnostics;

  const validate = getConfigValidator();
  if (validate(value)) return diagnostics;
  const seen = new Set<string>();
  for (const error of oneErrorPerEmptyValue(reduceErrors(validate.errors ?? [], value), value)) {
    const diagnostic = toDiagnostic(doc, error);
    if (!diagnostic) continue;
    const key = `${diagnostic.code}|${diagnostic.range.start.line}:${diagnostic.range.start.character}|${diagnostic.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    diagnostics.push(diagnostic);
    if (diagnostics.length >= MAX_SCHEMA_DIAGNOSTICS) break;
  }
  return diagnostics;
}

function valueAt(root: unknown, path: NodePath): unknown {
  let node = root;
  for (const segment of path) node = (node as Record<string | number, unknown> | undefined)?.[segment];
  return node;
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/**
 * ajv reports every branch of a union and the `if` that triggered a `then`; a person wants one message per
 * problem. Keep the branch whose type matches the value, or a single type error when none does.
 */
function reduceErrors(errors: SchemaError[], root: unknown): SchemaError[] {
  const unions = errors.filter((error) => error.keyword === 'anyOf');
  const kept: SchemaError[] = [];
  for (const error of errors) {
    if (error.keyword === 'if' || error.keyword === 'anyOf') continue;
    const union = unions.find((u) => error.schemaPath.startsWith(`${u.schemaPath}/`));
    if (union) {
      const branch = Number(error.schemaPath.slice(union.schemaPath.length + 1).split('/')[0]);
      const branches = union.schema as Array<{ type?: string }>;
      const actual = jsonType(valueAt(root, pathOf(union.instancePath)));
      const matching = branches.findIndex((b) => b.type === actual || (b.type === 'number' && actual === 'integer'));
      if (matching !== branch) continue;
    }
    kept.push(error);
  }
  for (const union of unions) {
    const branches = union.schema as Array<{ type?: string }>;
    const actual = jsonType(valueAt(root, pathOf(union.instancePath)));
    if (!branches.some((b) => b.type === actual || (b.type === 'number' && actual === 'integer'))) {
      kept.push({ ...union, keyword: 'type', params: { type: branches.map((b) => b.type).join(' or ') } });
    }
  }
  return kept;
}

/**
 * A key written with no value yet (`lr_scheduler_type:` while typing) is null: ajv reports its type and its enum
 * and more. One error says what is missing instead.
 */
function oneErrorPerEmptyValue(errors: SchemaError[], root: unknown): SchemaError[] {
  const empty = new Set<string>();
  return errors.filter((error) => {
    if (
      error.keyword === 'required' ||
      error.keyword === 'additionalProperties' ||
      valueAt(root, pathOf(error.instancePath)) !== null
    )
      return true;
    if (empty.has(error.instancePath)) return false;
    empty.add(error.instancePath);
    error.keyword = 'empty';
    return true;
  });
}

/** What a value may be, from its schema node: "one of `a`, `b`", "a number", "`a`, or a list such as `[x, y]`". */
function allowedText(path: NodePath): string | undefined {
  const node = schemaAt(path, false);
  if (!node) return undefined;
  const branches = node.anyOf ?? [node];
  const parts = branches.map((branch) => branchText(branch, path, node)).filter((part): part is string => !!part);
  return parts.length ? parts.join(', or ') : undefined;
}

function branchText(branch: SchemaNode, path: NodePath, node: SchemaNode): string | undefined {
  if (branch.title) return branch.title;
  if (branch.enum)
    return branch.enum.length === 1
      ? `\`${String(branch.enum[0])}\``
      : `one of ${branch.enum.map((v) => `\`${String(v)}\``).join(', ')}`;
  if (branch.type === 'array') {
    const example = node.examples?.find(Array.isArray) as unknown[] | undefined;
    return `a list of ${listNoun(path)}${example ? ` such as \`[${example.map(String).join(', ')}]\`` : ''}`;
  }
  if (branch.type === 'object') return 'a mapping of keys';
  const type = Array.isArray(branch.type) ? branch.type.join(' or ') : branch.type;
  return type ? `${article(type)} ${type}` : undefined;
}

/** What the items of a list-valued key are called in messages. */
function listNoun(path: NodePath): string {
  const key = String(path[path.length - 1] ?? '');
  return key === 'target_modules' || key === 'modules_to_save' ? 'module names' : 'values';
}

/**
 * What YAML made of a non-finite number: JSON (and so the old message) showed `.inf`, `.nan` and `1e309` as "null".
 */
function nonFiniteText(value: number): string {
  if (Number.isNaN(value)) return 'YAML reads this value (`.nan`) as not-a-number';
  const sign = value < 0 ? 'minus ' : '';
  return `YAML reads this value as ${sign}infinity (\`${value < 0 ? '-' : ''}.inf\`, or a number past 1.8e308 such as 1e309)`;
}

function describeValue(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** Where a schema error points, and what is there. */
interface ErrorSite {
  doc: ConfigDocument;
  error: SchemaError;
  path: NodePath;
  /** The path as written in messages. */
  where: string;
  value: unknown;
}

/** `additionalProperties`: an unknown key, with the closest known key as a rename (else its removal). */
function unknownKeyDiagnostic({ doc, error, path, where }: ErrorSite): Diagnostic {
  const key = String((error.params as { additionalProperty: string }).additionalProperty);
  const known = Object.keys(schemaAt(path)?.properties ?? {});
  const suggestion = closestMatch(key, known);
  const hint = suggestion
    ? ` Did you mean \`${suggestion}\`?`
    : known.length
      ? ` Known keys: ${known.map((k) => `\`${k}\``).join(', ')}.`
      : '';
  const fixes: QuickFix[] = suggestion
    ? [
        {
          title: `Rename to \`${suggestion}\``,
          edits: [{ kind: 'renameKey', path: [...path, key], newKey: suggestion }],
          isPreferred: true,
        },
      ]
    : [{ title: `Remove \`${key}\``, edits: [{ kind: 'remove', path: [...path, key] }] }];
  const data: SchemaDiagnosticData = { path: [...path, key], ...(suggestion ? { suggestion } : {}), fixes };
  return makeDiagnostic(
    keyRange(doc, [...path, key]),
    'error',
    SchemaCode.unknownKey,
    `Unknown key \`${key}\` in ${where}.${hint}`,
    data,
  );
}

/** `required`: a missing key. */
function missingKeyDiagnostic({ doc, error, path, where }: ErrorSite): Diagnostic {
  const missing = String((error.params as { missingProperty: string }).missingProperty);
  const data: SchemaDiagnosticData = { path, missing };
  return makeDiagnostic(
    keyRange(doc, path),
    'error',
    SchemaCode.missingKey,
    `Missing required key \`${missing}\` in ${where}.`,
    data,
  );
}

/** `type`: a value of the wrong type (a non-finite number, a GPU read as a number, the rest). */
function typeDiagnostic({ doc, error, path, where, value }: ErrorSite): Diagnostic {
  const expected = String((error.params as { type: string | string[] }).type).replace(',', ' or ');
  if (typeof value === 'number' && !Number.isFinite(value)) {
    return makeDiagnostic(
      valueRange(doc, path),
      'error',
      SchemaCode.type,
      `${where} must be a finite ${expected.includes('integer') ? 'integer' : 'number'}; ${nonFiniteText(value)}. Write a finite number.`,
      { path } satisfies SchemaDiagnosticData,
    );
  }
  // `gpu: 4090` is read as a number by YAML: offer the catalog card it names.
  const card = path.join('.') === 'hardware.gpu' && typeof value === 'number' ? lookupGpuName(String(value)) : null;
  if (card?.ok) {
    const fixes: QuickFix[] = [
      {
        title: `Change to \`${card.gpu.name}\``,
        edits: [{ kind: 'set', path, value: card.gpu.name }],
        isPreferred: true,
      },
    ];
    return makeDiagnostic(
      valueRange(doc, path),
      'error',
      SchemaCode.type,
      `${where} must be a GPU name, not the number ${String(value)}. Did you mean \`${card.gpu.name}\`?`,
      { path, suggestion: card.gpu.name, fixes } satisfies SchemaDiagnosticData,
    );
  }
  return makeDiagnostic(
    valueRange(doc, path),
    'error',
    SchemaCode.type,
    `${where} must be ${article(expected)} ${expected}, not ${describeValue(value)}.`,
    { path } satisfies SchemaDiagnosticData,
  );
}

/** `enum`: a value not allowed, with the closest allowed one as a change (or a one-item list where lists are). */
function enumDiagnostic({ doc, error, path, where, value }: ErrorSite): Diagnostic {
  const allowed = (error.params as { allowedValues: unknown[] }).allowedValues;
  const suggestion = typeof value === 'string' ? closestMatch(value, allowed.map(String)) : undefined;
  const hint = suggestion ? ` Did you mean \`${suggestion}\`?` : '';
  const fixes: QuickFix[] = suggestion
    ? [
        {
          title: `Change to \`${suggestion}\``,
          edits: [{ kind: 'set', path, value: suggestion }],
          isPreferred: true,
        },
      ]
    : [];
  const inUnion = !!schemaAt(path, false)?.anyOf;
  if (
    inUnion &&
    typeof value === 'string' &&
    !suggestion &&
    schemaAt(path, false)?.anyOf?.some((b) => b.type === 'array')
  ) {
    fixes.push({
      title: `Write as a list: \`[${value}]\``,
      edits: [{ kind: 'set', path, value: [value] }],
      isPreferred: true,
    });
  }
  const expected = inUnion ? allowedText(path) : `one of ${allowed.map((v) => `\`${String(v)}\``).join(', ')}`;
  const data: SchemaDiagnosticData = { path, allowed, ...(suggestion ? { suggestion } : {}), fixes };
  return makeDiagnostic(
    valueRange(doc, path),
    'error',
    SchemaCode.enum,
    `${where} must be ${expected}; got ${describeValue(value)}.${hint}`,
    data,
  );
}

/** `const`: the one value allowed here. */
function constDiagnostic({ doc, error, path, where }: ErrorSite): Diagnostic {
  const expected = (error.params as { allowedValue: unknown }).allowedValue;
  const data: SchemaDiagnosticData = {
    path,
    allowed: [expected],
    suggestion: String(expected),
    fixes: [
      {
        title: `Set to \`${String(expected)}\``,
        edits: [{ kind: 'set', path, value: expected }],
        isPreferred: true,
      },
    ],
  };
  const why = path.join('.') === 'quantization.load_in_4bit' ? ' QLoRA trains adapters on a 4-bit base.' : '';
  return makeDiagnostic(
    valueRange(doc, path),
    'error',
    SchemaCode.enum,
    `${where} must be \`${String(expected)}\` here.${why}`,
    data,
  );
}

/** `false schema`: a key that has no effect with the method. */
function notApplicableDiagnostic({ doc, path, where }: ErrorSite): Diagnostic {
  const method = (doc.value as { method?: unknown }).method;
  return makeDiagnostic(
    keyRange(doc, path),
    'warning',
    SchemaCode.notApplicable,
    `${where} has no effect with \`method: ${String(method)}\`: ${path[0] === 'quantization' ? 'quantization applies to `qlora` only' : 'LoRA settings apply to `lora` and `qlora` only'}. Remove it, or change the method.`,
    {
      path,
      fixes: [{ title: `Remove \`${path.join('.')}\``, edits: [{ kind: 'remove', path }], isPreferred: true }],
    } satisfies SchemaDiagnosticData,
  );
}

/** `empty`: a key with no value. */
function emptyDiagnostic({ doc, path, where }: ErrorSite): Diagnostic {
  const expected = allowedText(path);
  const data: SchemaDiagnosticData = {
    path,
    fixes: [{ title: `Remove \`${path.join('.')}\``, edits: [{ kind: 'remove', path }] }],
  };
  return makeDiagnostic(
    keyRange(doc, path),
    'error',
    SchemaCode.type,
    `${where} has no value${expected ? `: write ${expected}` : ''}, or remove the key.`,
    data,
  );
}

/** `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`: a number out of range. */
function rangeDiagnostic({ doc, error, path, where, value }: ErrorSite): Diagnostic {
  const params = error.params as { comparison: string; limit: number };
  return makeDiagnostic(
    valueRange(doc, path),
    'error',
    SchemaCode.range,
    `${where} must be ${params.comparison} ${params.limit}; got ${describeValue(value)}.`,
    { path } satisfies SchemaDiagnosticData,
  );
}

/** The diagnostic of one schema error, by its keyword. */
function toDiagnostic(doc: ConfigDocument, error: SchemaError): Diagnostic | undefined {
  const path = pathOf(error.instancePath);
  const where = path.length ? `\`${path.join('.')}\`` : 'the config';
  const site: ErrorSite = { doc, error, path, where, value: valueAt(doc.value, path) };
  switch (error.keyword) {
    case 'additionalProperties':
      return unknownKeyDiagnostic(site);
    case 'required':
      return missingKeyDiagnostic(site);
    case 'type':
      return typeDiagnostic(site);
    case 'enum':
      return enumDiagnostic(site);
    case 'const':
      return constDiagnostic(site);
    case 'false schema':
      return notApplicableDiagnostic(site);
    case 'empty':
      return emptyDiagnostic(site);
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return rangeDiagnostic(site);
    case 'minLength':
      return makeDiagnostic(valueRange(doc, path), 'error', SchemaCode.range, `${where} must not be empty.`, {
        path,
      } satisfies SchemaDiagnosticData);
    case 'minItems':
      return makeDiagnostic(valueRange(doc, path), 'error', SchemaCode.range, `${where} must list at least one item.`, {
        path,
      } satisfies SchemaDiagnosticData);
    case 'uniqueItems':
      return makeDiagnostic(
        valueRange(doc, path),
        'warning',
        SchemaCode.invalid,
        `${where} lists the same item twice.`,
        { path } satisfies SchemaDiagnosticData,
      );
    default:
      return makeDiagnostic(
        valueRange(doc, path),
        'error',
        SchemaCode.invalid,
        `${where} ${error.message ?? 'is invalid'}.`,
        { path } satisfies SchemaDiagnosticData,
      );
  }
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? 'an' : 'a';
}
