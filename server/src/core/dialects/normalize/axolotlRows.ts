/**
 * How axolotl reads a dataset's rows, from the entry's `type` (its prompt strategies, axolotl-ai-cloud/axolotl
 * `src/axolotl/prompt_strategies/`): the fields or message keys it takes, so the dataset check names axolotl's own
 * columns. A strategy not listed here is left unchecked: its rows are counted and measured, never called wrong.
 */
import type { RowLayout } from '../../data/layout';
import { asObject, asString, type Obj } from './read';

export function axolotlRowLayout(entry: Obj): RowLayout {
  const type = entry.type;
  if (type !== null && typeof type === 'object' && !Array.isArray(type)) {
    // A user-defined format (field_instruction, field_input, field_output, field_system).
    const custom = asObject(type);
    return {
      kind: 'fields',
      label: "axolotl's user-defined `type`",
      required: [asString(custom.field_instruction) ?? 'instruction', asString(custom.field_output) ?? 'output'],
      optional: [asString(custom.field_input) ?? 'input', asString(custom.field_system) ?? 'system'],
    };
  }
  const name = asString(type);
  if (name === 'alpaca')
    return {
      kind: 'fields',
      label: "axolotl's `type: alpaca`",
      required: ['instruction', 'output'],
      optional: ['input'],
    };
  if (name === 'completion')
    return {
      kind: 'fields',
      label: "axolotl's `type: completion`",
      required: [asString(entry.field) ?? 'text'],
      optional: [],
    };
  if (name === 'chat_template') {
    const mappings = asObject(entry.message_property_mappings);
    return {
      kind: 'messages',
      label: "axolotl's `type: chat_template`",
      field: asString(entry.field_messages) ?? 'messages',
      role: asString(mappings.role) ?? asString(entry.message_field_role) ?? 'role',
      content: asString(mappings.content) ?? asString(entry.message_field_content) ?? 'content',
    };
  }
  return { kind: 'unchecked', label: `axolotl's \`type: ${name ?? '(none)'}\`` };
}
