/** How much of a document the cheap look reads: enough for any config's top-level keys. */
export const SNIFF_BYTES = 64 * 1024;

/** The top-level keys of a document as far as recognition needs them. */
export interface TopLevelSketch {
  /** Each top-level key with its inline scalar text ('' when the value is a block or empty). */
  keys: Map<string, string>;
  /** Top-level keys whose mapping value holds a `_component_` key (torchtune's instantiation marker). */
  componentKeys: Set<string>;
  firstLine: string;
}

const BLOCK_KEY =
  /^(?:"((?:[^"\\]|\\.)*)"|'((?:[^']|'')*)'|([^\s#'"\-?:,[\]{}&*!|>%@`][^#]*?|-[^\s#][^#]*?))\s*:(?:\s+(.*))?$/;
const NESTED_COMPONENT = /^\s+_component_\s*:/;

/**
 * The top-level keys of the first {@link SNIFF_BYTES} of a YAML or JSON text, without a full parse: a line scan for
 * block YAML, JSON.parse for a JSON object. Good enough to decide whether to claim a document; the full parse decides
 * everything else.
 */
export function sketchTopLevel(text: string): TopLevelSketch {
  const head = text.length > SNIFF_BYTES ? text.slice(0, SNIFF_BYTES) : text;
  const firstLine = head.split(/\r\n|\r|\n/, 1)[0] ?? '';
  const trimmed = head.trimStart();
  if (trimmed.startsWith('{')) return sketchJson(text, firstLine);
  const keys = new Map<string, string>();
  const componentKeys = new Set<string>();
  let current: string | undefined;
  for (const line of head.split(/\r\n|\r|\n/)) {
    if (line === '' || line.startsWith('#') || line.startsWith('---') || line.startsWith('...') || line.startsWith('%'))
      continue;
    if (/^\s/.test(line)) {
      if (current !== undefined && NESTED_COMPONENT.test(line)) componentKeys.add(current);
      continue;
    }
    const match = BLOCK_KEY.exec(line);
    if (!match) {
      current = undefined;
      continue;
    }
    const key = match[1] ?? match[2]?.replace(/''/g, "'") ?? match[3]!;
    const inline = stripComment(match[4] ?? '');
    current = key;
    if (!keys.has(key)) keys.set(key, inline);
    if (/^\{.*\b_component_\s*:/.test(inline)) componentKeys.add(key);
  }
  return { keys, componentKeys, firstLine };
}

function stripComment(value: string): string {
  const quoted = /^"((?:[^"\\]|\\.)*)"|^'((?:[^']|'')*)'/.exec(value);
  if (quoted) return quoted[1] ?? quoted[2]!.replace(/''/g, "'");
  const hash = value.search(/\s#/);
  return (hash >= 0 ? value.slice(0, hash) : value).trim();
}

function sketchJson(text: string, firstLine: string): TopLevelSketch {
  const keys = new Map<string, string>();
  const componentKeys = new Set<string>();
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [key, item] of Object.entries(value)) {
        keys.set(
          key,
          typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean' ? String(item) : '',
        );
        if (item && typeof item === 'object' && !Array.isArray(item) && '_component_' in item) componentKeys.add(key);
      }
    }
  } catch {
    // Not JSON after all (or cut off): no keys, so nothing is claimed.
  }
  return { keys, componentKeys, firstLine };
}

/** The same sketch from an already parsed value (exact where the line scan is approximate). */
export function sketchFromValue(value: unknown, firstLine: string): TopLevelSketch {
  const keys = new Map<string, string>();
  const componentKeys = new Set<string>();
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      keys.set(key, item === null || typeof item === 'object' ? '' : String(item));
      if (item && typeof item === 'object' && !Array.isArray(item) && '_component_' in item) componentKeys.add(key);
    }
  }
  return { keys, componentKeys, firstLine };
}
