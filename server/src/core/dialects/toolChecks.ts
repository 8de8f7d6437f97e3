/**
 * The tools' own validators that stop a run, evaluated from the checks their schema carries
 * (scripts/dialect-facts/*.checks → x-lora-lens.checks): axolotl's plugin validators, LLaMA-Factory's `__post_init__`
 * and parser checks. Each clause reads the value as the tool does: truthiness on the raw value (a pydantic
 * "before" validator sees what the file says), comparisons with the schema's default standing in for an absent key.
 */
import type { DialectReport } from './report';
import type { CheckClause, DialectSchemaRoot, ToolCheck } from './schemaTable';
import { TOOL_FACTS, truthy } from './toolFacts';
import { compareReleases } from './toolVersion';

type Config = Record<string, unknown>;

/** A key's value (dotted for nested keys), or a derived fact's (`$name`). */
function valueAt(config: Config, dotted: string): unknown {
  if (dotted.startsWith('$')) return TOOL_FACTS[dotted.slice(1)]?.(config);
  let node: unknown = config;
  for (const segment of dotted.split('.')) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    node = Object.hasOwn(node, segment) ? (node as Config)[segment] : undefined;
  }
  return node;
}

function holds(clause: CheckClause, config: Config, schema: DialectSchemaRoot): boolean {
  const raw = valueAt(config, clause.key);
  const withDefault = (key: string, value: unknown) =>
    value === undefined && !key.includes('.') && !key.startsWith('$') ? schema.properties[key]?.default : value;
  const value = withDefault(clause.key, raw);
  switch (clause.op) {
    case 'truthy':
      return truthy(raw);
    case 'falsy':
      return !truthy(raw);
    case 'validated':
      return truthy(value);
    case 'notValidated':
      return !truthy(value);
    case 'set':
      return raw !== undefined && raw !== null;
    case 'unset':
      return raw === undefined || raw === null;
    case 'eq':
      return clause.values.some((v) => v === value);
    case 'ne':
      // Python's `data.get(k) != v`: an absent key (None) differs from every value.
      return !clause.values.some((v) => v === value);
    case 'gt':
      return typeof value === 'number' && value > clause.value;
    case 'lt':
      return typeof value === 'number' && value < clause.value;
    case 'le':
      return typeof value === 'number' && value <= clause.value;
    case 'lengthGt':
      return (itemCount(raw) ?? 0) > clause.value;
    case 'truthyCount': {
      const n = clause.keys.filter((key) => truthy(valueAt(config, key))).length;
      return clause.cmp === 'gt' ? n > clause.value : n < clause.value;
    }
    case 'notMultiple': {
      const other = withDefault(clause.other, valueAt(config, clause.other));
      return typeof value === 'number' && typeof other === 'number' && other !== 0 && value % other !== 0;
    }
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
    case 'containsCi':
      return typeof raw === 'string' && raw.toLowerCase().includes(clause.text.toLowerCase());
    case 'startsWith':
      return typeof raw === 'string' && raw.startsWith(clause.text);
  }
}

/** How many items a list or a comma-separated string holds; undefined for anything else. */
function itemCount(value: unknown): number | undefined {
  if (Array.isArray(value)) return value.length;
  if (typeof value === 'string' && value.trim() !== '') return value.split(',').length;
  if (typeof value === 'number') return 1;
  return undefined;
}

/** A value as the tool's f-string prints it: Python's repr of strings in lists, `None` for nothing. */
function printed(value: unknown): string {
  if (value === undefined || value === null) return 'None';
  if (Array.isArray(value)) return `[${value.map((v) => (typeof v === 'string' ? `'${v}'` : printed(v))).join(', ')}]`;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** The tool's message with each `{key}` (a key or a derived `$fact`) replaced by the config's value. */
export function filledIn(says: string, config: Config): string {
  // A value is shown up to 200 characters: a 1 MB one made a 1 MB message.
  return says.replace(/\{([\w.$]+)\}/g, (_, key: string) => {
    const text = printed(valueAt(config, key));
    return text.length > 200 ? `${text.slice(0, 197)}...` : text;
  });
}

/** Whether a check's plugin (if any) is listed, by class path or by module. */
function pluginListed(check: ToolCheck, plugins: Set<string>): boolean {
  return !check.plugin || plugins.has(check.plugin) || plugins.has(check.plugin.replace(/\.[^.]+$/, ''));
}

/**
 * Whether the release a file is checked against raises the check in its words (no release, or none established: it
 * does): from `since` on, and before `until` where a later row rewords it. Without a release the newest is meant,
 * which no row with an `until` describes.
 */
export function raisedIn(check: ToolCheck, release: string | undefined): boolean {
  if (!release) return !check.until;
  if (check.until && compareReleases(check.until, release) <= 0) return false;
  return check.since === null || compareReleases(check.since, release) <= 0;
}

/**
 * Where the tool raises it and since which release, as the message says: `validation.py:107 at 067b021, raised since
 * axolotl 0.1.0`; a source written `file:line@tag` is a raise of that release, which the schema's commit reworded.
 */
export function raisedWhere(check: ToolCheck, tool: string, commit: string): string {
  const [source, tag] = check.source.split('@');
  const at = tag ?? commit;
  const since = check.conditionSince ?? check.since;
  return `${source}${at ? ` at ${at}` : ''}${since ? `, raised since ${tool} ${since}` : ''}`;
}

/**
 * Each check of the schema that holds for the config, as the error it is in the tool's own words, with its source
 * line; a check the release checked against does not raise yet (`since` after it) is left out. Returns the codes
 * reported.
 */
export function runToolChecks(
  report: DialectReport,
  schema: DialectSchemaRoot,
  config: Config,
  plugins: Set<string> = new Set(),
  release?: string,
): string[] {
  const tool = schema['x-lora-lens'].tool;
  const at = schema['x-lora-lens'].version[0]?.split(' ')[1] ?? '';
  const reported: string[] = [];
  for (const check of schema['x-lora-lens'].checks ?? []) {
    if (!raisedIn(check, release) || !pluginListed(check, plugins)) continue;
    if (!check.when.every((c) => holds(c, config, schema))) continue;
    // At the key the check names, else at the first key of its condition the file has (else the top).
    const anchor = [check.at, ...check.when.map((c) => c.key)].find(
      (key) => !key.startsWith('$') && valueAt(config, key) !== undefined,
    );
    report.atKey(
      anchor ? anchor.split('.') : [],
      'error',
      check.code,
      `${tool} stops before training: "${filledIn(check.says, config)}" (${raisedWhere(check, tool, at)}).`,
    );
    reported.push(check.code);
  }
  return reported;
}
