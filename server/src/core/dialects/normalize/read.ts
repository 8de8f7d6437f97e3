/** Reading dialect values as the tools read them: YAML 1.1 leaves `1e-4` a string, the tools take it as a number. */

export type Obj = Record<string, unknown>;

export function asObject(value: unknown): Obj {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : {};
}

/** A finite number, or a numeric string (axolotl types `learning_rate` as `str | float`); else undefined. */
export function asNumber(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}

/** A whole number ≥ min, else undefined. */
export function asInt(value: unknown, min = 0): number | undefined {
  const n = asNumber(value);
  return n !== undefined && Number.isInteger(n) && n >= min ? n : undefined;
}

export function asBool(value: unknown): boolean | undefined {
  return typeof value === 'boolean' ? value : undefined;
}

export function asString(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** Keys whose value is set (not null, not an empty string): what the user actually wrote. */
export function setKeys(root: Obj): string[] {
  return Object.keys(root).filter((k) => root[k] !== null && root[k] !== undefined && root[k] !== '');
}
