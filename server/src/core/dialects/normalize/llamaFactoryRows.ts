/**
 * How LLaMA-Factory reads a dataset's rows, from its entry in `dataset_info.json` (hiyouga/LLaMA-Factory
 * `src/llamafactory/data/parser.py`, DatasetAttr): `formatting` alpaca (columns prompt → `instruction`, query →
 * `input`, response → `output`) or sharegpt (messages → `conversations`, tags role → `from`, content → `value`).
 * An entry's `columns` (or `tags`) replaces the defaults wholesale: a column it leaves out is not read at all.
 * Ranking (preference) data and formats LoRA Lens does not model are left unchecked. A `kto_tag` column is the
 * layout's `ktoLabel`, tallied for the kto-weights rule.
 */
import type { RowLayout } from '../../data/layout';
import { asObject, asString, type Obj } from './read';

export function llamaFactoryRowLayout(name: string, entry: Obj): RowLayout {
  const columns = entry.columns === undefined ? null : asObject(entry.columns);
  // KTO rows: the `kto_tag` column (no default; DatasetAttr.kto_tag) holds a boolean, true for a desirable row
  // (data/converter.py puts the response first then, and processor/feedback.py reads that as kto_tag True).
  const ktoTag = columns ? asString(columns.kto_tag) : undefined;
  const layout = rowLayoutOf(name, entry, columns);
  return ktoTag ? { ...layout, ktoLabel: ktoTag } : layout;
}

function rowLayoutOf(
  name: string,
  entry: Obj,
  columns: Obj | null,
): Exclude<RowLayout, { kind: 'format' | 'preference' }> {
  const where = `LLaMA-Factory's \`${name}\` entry in dataset_info.json`;
  const formatting = asString(entry.formatting) ?? 'alpaca';
  if (entry.ranking === true || (formatting !== 'alpaca' && formatting !== 'sharegpt'))
    return { kind: 'unchecked', label: where };
  const column = (key: string, fallback: string): string | null =>
    columns ? (asString(columns[key]) ?? null) : fallback;
  if (formatting === 'alpaca') {
    const present = (keys: Array<string | null>) => keys.filter((k): k is string => k !== null);
    const required = present([column('prompt', 'instruction'), column('response', 'output')]);
    if (required.length === 0) return { kind: 'unchecked', label: where };
    // system and history have no default column: they are read only when `columns` names them.
    const named = (key: string) => (columns ? (asString(columns[key]) ?? null) : null);
    return {
      kind: 'fields',
      label: `${where} (alpaca)`,
      required,
      optional: present([column('query', 'input'), named('system'), named('history')]),
    };
  }
  const tags = entry.tags === undefined ? null : asObject(entry.tags);
  const tag = (key: string, fallback: string): string | null => (tags ? (asString(tags[key]) ?? null) : fallback);
  const field = column('messages', 'conversations');
  const role = tag('role_tag', 'from');
  const content = tag('content_tag', 'value');
  if (!field || !role || !content) return { kind: 'unchecked', label: where };
  return { kind: 'messages', label: `${where} (sharegpt)`, field, role, content };
}
