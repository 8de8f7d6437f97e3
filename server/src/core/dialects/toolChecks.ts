/**
 * The tools' own validators that stop a run, evaluated from the checks their schema carries
 * (scripts/dialect-facts/*.checks → x-lora-lens.checks): axolotl's plugin validators, LLaMA-Factory's `__post_init__`
 * and parser checks. Each clause reads the value as the tool does: truthiness on the raw value (a pydantic
 * "before" validator sees what the file says), comparisons with the schema's default standing in for an absent key.
 */
import type { DialectReport } from './report';
import type { CheckClause, DialectSchemaRoot, ToolCheck } from './schemaTable';

type Config = Record<string, unknown>;

function valueAt(config: Config, dotted: string): unknown {
  let node: unknown = config;
  for (const segment of dotted.split('.')) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    node = Object.hasOwn(node, segment) ? (node as Config)[segment] : undefined;
  }
  return node;
}

/** Python's truthiness of a YAML value: None, False, 0, '' and empty lists and mappings are false. */
function truthy(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

function holds(clause: CheckClause, config: Config, schema: DialectSchemaRoot): boolean {
  const raw = valueAt(config, clause.key);
  const withDefault = (key: string, value: unknown) =>
    value === undefined && !key.includes('.') ? schema.properties[key]?.default : value;
  const value = withDefault(clause.key, raw);
  switch (clause.op) {
    case 'truthy':
      return truthy(raw);
    case 'falsy':
      return !truthy(raw);
    case 'set':
      return raw !== undefined && raw !== null;
    case 'eq':
      return clause.values.some((v) => v === value);
    case 'ne':
      // Python's `data.get(k) != v`: an absent key (None) differs from every value.
      return !clause.values.some((v) => v === value);
    case 'gt':
      return typeof value === 'number' && value > clause.value;
    case 'lt':
      return typeof value === 'number' && value < clause.value;
    case 'gtKey': {
      const other = withDefault(clause.other, valueAt(config, clause.other));
      return typeof value === 'number' && typeof other === 'number' && value > other;
    }
    case 'countNe': {
      // LLaMA-Factory splits a comma-separated string into a list (split_arg); both must be given.
      const a = itemCount(raw);
      const b = itemCount(valueAt(config, clause.other));
      return a !== undefined && b !== undefined && a !== b;
    }
    case 'contains':
      return Array.isArray(raw)
        ? raw.some((item) => String(item).includes(clause.text))
        : typeof raw === 'string' && raw.includes(clause.text);
  }
}

/** How many items a list or a comma-separated string holds; undefined for anything else. */
function itemCount(value: unknown): number | undefined {
  if (Array.isArray(value)) return value.length;
  if (typeof value === 'string' && value.trim() !== '') return value.split(',').length;
  if (typeof value === 'number') return 1;
  return undefined;
}

/** Whether a check's plugin (if any) is listed, by class path or by module. */
function pluginListed(check: ToolCheck, plugins: Set<string>): boolean {
  return !check.plugin || plugins.has(check.plugin) || plugins.has(check.plugin.replace(/\.[^.]+$/, ''));
}

/**
 * Each check of the schema that holds for the config, as the error it is in the tool's own words, with its source
 * line. Returns the codes reported.
 */
export function runToolChecks(
  report: DialectReport,
  schema: DialectSchemaRoot,
  config: Config,
  plugins: Set<string> = new Set(),
): string[] {
  const tool = schema['x-lora-lens'].tool;
  const at = schema['x-lora-lens'].version[0]?.split(' ')[1] ?? '';
  const reported: string[] = [];
  for (const check of schema['x-lora-lens'].checks ?? []) {
    if (!pluginListed(check, plugins) || !check.when.every((c) => holds(c, config, schema))) continue;
    const path = check.at.split('.');
    const present = valueAt(config, check.at) !== undefined;
    report.atKey(
      present ? path : [],
      'error',
      check.code,
      `${tool} stops before training: "${check.says}" (${check.source}${at ? ` at ${at}` : ''}).`,
    );
    reported.push(check.code);
  }
  return reported;
}
