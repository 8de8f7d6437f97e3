import { YamlTimestamp } from './yaml11';
import type { DialectProperty } from './schemaTable';

/**
 * How the tool turns a YAML value into a field value. `pydantic` (axolotl): lax conversion, so `"1e-4"` fills a
 * float field and `1` a bool field. `dataclass` (LLaMA-Factory's HfArgumentParser.parse_dict): no conversion at all;
 * comma-separated string fields also take a list (LLaMA-Factory splits strings and keeps lists). Under both, 0 and 1
 * fill a bool field: parse_dict (transformers 4.55-5.x hf_argparser.py) builds the dataclass with `dtype(**inputs)`,
 * and the tools test those flags for truth (`if training_args.do_train:`), so `do_eval: 1` is `do_eval: true`.
 */
export type Coercion = 'pydantic' | 'dataclass';

const NUMERIC_STRING = /^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$/;
const INTEGER_STRING = /^\s*[-+]?\d+\s*$/;
const BOOL_STRINGS = new Set(['true', 'false', 'yes', 'no', 'on', 'off', '1', '0', 't', 'f', 'y', 'n']);

/** Whether a value fits one branch of a property's type (an enum is checked separately). */
export function fitsType(value: unknown, property: DialectProperty, coercion: Coercion): boolean {
  if (value === null || value === undefined) return true;
  if (property.anyOf) return property.anyOf.some((branch) => fitsType(value, branch, coercion));
  if (property.enum) return typeof value === 'string';
  switch (property.type) {
    case undefined:
      return true;
    case 'boolean':
      return (
        typeof value === 'boolean' ||
        value === 0 ||
        value === 1 ||
        (coercion === 'pydantic' && typeof value === 'string' && BOOL_STRINGS.has(value.toLowerCase()))
      );
    case 'integer':
      if (typeof value === 'number') return Number.isInteger(value);
      return (
        coercion === 'pydantic' &&
        (typeof value === 'boolean' || (typeof value === 'string' && INTEGER_STRING.test(value)))
      );
    case 'number':
      if (typeof value === 'number') return true;
      return (
        coercion === 'pydantic' &&
        (typeof value === 'boolean' || (typeof value === 'string' && NUMERIC_STRING.test(value)))
      );
    case 'string':
      if (typeof value === 'string') return true;
      return coercion === 'dataclass' && Array.isArray(value) && value.every((item) => typeof item === 'string');
    case 'object':
      return typeof value === 'object' && !Array.isArray(value) && !(value instanceof YamlTimestamp);
    case 'array':
      return (
        Array.isArray(value) &&
        (!property.items ||
          property.items.properties !== undefined ||
          value.every((item) => fitsType(item, property.items!, coercion)))
      );
    default:
      return true;
  }
}

/** Whether a string value is outside the property's enum (in whichever branch declares one). */
export function enumOf(property: DialectProperty): string[] | undefined {
  if (property.enum) return property.enum;
  const enums = property.anyOf?.filter((branch) => branch.enum).flatMap((branch) => branch.enum!);
  return enums && enums.length ? enums : undefined;
}

/** Whether the value is a string that the property only accepts from its enum. */
export function breaksEnum(value: unknown, property: DialectProperty): boolean {
  const allowed = enumOf(property);
  if (!allowed || typeof value !== 'string') return false;
  if (property.anyOf?.some((branch) => branch.type === 'string')) return false;
  return !allowed.includes(value);
}

/** The expected type in words, for messages: "true, false, `offload` or `offload_disk`". */
export function describeType(property: DialectProperty): string {
  const words = [...new Set(alternatives(property))];
  return words.length <= 1 ? (words[0] ?? 'a value') : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

function alternatives(property: DialectProperty): string[] {
  if (property.anyOf) return property.anyOf.flatMap(alternatives);
  if (property.enum) return property.enum.map((v) => `\`${v}\``);
  switch (property.type) {
    case 'boolean':
      return ['true', 'false'];
    case 'integer':
      return ['an integer'];
    case 'number':
      return ['a number'];
    case 'string':
      return ['a string'];
    case 'object':
      return ['a mapping'];
    case 'array':
      return [
        property.items && !property.items.properties ? `a list of ${plural(describeType(property.items))}` : 'a list',
      ];
    default:
      return ['a value'];
  }
}

function plural(text: string): string {
  return text.replace(/^an? /, '').replace(/(integer|number|string|mapping)$/, '$1s');
}

export function describeValue(value: unknown): string {
  if (value instanceof YamlTimestamp) return `the date ${value.text}`;
  const text = typeof value === 'string' ? `"${value}"` : (JSON.stringify(value) ?? String(value));
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
