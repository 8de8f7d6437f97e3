import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { detectDialect, validateDialect } from '../../server/src/core/dialects';
import { corpusFiles } from './corpusFiles';

/** A small deterministic PRNG (mulberry32), so a failure reproduces from its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOKENS = [
  ': ',
  '\n',
  '  ',
  '- ',
  '{',
  '}',
  '[',
  ']',
  '&a ',
  '*a',
  '!!str ',
  '"',
  "'",
  '#',
  '1e-4',
  'yes',
  '0755',
  '~',
  ': |',
  '\t',
  '_component_: x',
  'datasets:\n  - ',
  'plugins: 7',
  'lora_r: [',
  '\u0000',
  '\uFFFF',
];

function mutateText(text: string, next: () => number): string {
  let out = text;
  const edits = 1 + Math.floor(next() * 6);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(next() * (out.length + 1));
    const choice = next();
    if (choice < 0.3) out = out.slice(0, at) + out.slice(at + 1 + Math.floor(next() * 20));
    else if (choice < 0.6) out = out.slice(0, at) + TOKENS[Math.floor(next() * TOKENS.length)] + out.slice(at);
    else if (choice < 0.8) {
      const lines = out.split('\n');
      const line = Math.floor(next() * lines.length);
      lines.splice(line, 0, lines[Math.floor(next() * lines.length)] ?? '');
      out = lines.join('\n');
    } else out = out.replace(/: [^\n]*/, `: ${TOKENS[Math.floor(next() * TOKENS.length)]}`);
  }
  return out;
}

test('mutated axolotl and LLaMA-Factory documents never make recognition or validation throw', () => {
  const files = [...corpusFiles('axolotl'), ...corpusFiles('llama-factory')].filter((_, i) => i % 6 === 0);
  const next = random(20261201);
  let checked = 0;
  for (const file of files) {
    for (let round = 0; round < 3; round++) {
      const text = mutateText(file.text, next);
      const doc = parseConfigDocument(text);
      for (const forced of [null, 'axolotl', 'llama-factory'] as const) {
        const source = forced ? `# lora-lens: dialect=${forced}\n${text}` : text;
        const match = forced ? detectDialect(parseConfigDocument(source), file.path) : detectDialect(doc, file.path);
        detectDialect(source, file.path);
        const diagnostics = validateDialect(forced ? parseConfigDocument(source) : doc, match, { configDir: null });
        assert.ok(Array.isArray(diagnostics));
        for (const d of diagnostics)
          assert.ok(
            d.range.start.line >= 0 && typeof d.message === 'string' && d.message.length > 0,
            `${file.id} round ${round}`,
          );
        checked++;
      }
    }
  }
  assert.ok(checked >= 300, `${checked} documents`);
});

test('non-mapping documents and hostile values are handled', () => {
  for (const text of [
    '',
    '- a\n- b\n',
    '42',
    'base_model: [1, 2]\ndatasets: 3\nadapter: {x: 1}\nplugins: yes\n',
    'model_name_or_path: 1\nstage: [sft]\ndataset: {a: 1}\nquantization_bit: x\n',
  ]) {
    for (const dialect of ['axolotl', 'llama-factory'] as const) {
      const doc = parseConfigDocument(text);
      assert.doesNotThrow(
        () =>
          validateDialect(
            doc,
            { dialect, source: 'modeline', ...(dialect === 'llama-factory' ? { subKind: 'train' as const } : {}) },
            { configDir: '/nonexistent' },
          ),
        text,
      );
    }
  }
});

test("a huge hostile file gets a bounded report that still carries the tool's own errors", () => {
  const lines = ['base_model: x', 'adapter: qlora', 'learning_rate: 2e-4', 'datasets:'];
  for (let i = 0; i < 1500; i++) lines.push(`  - path: owner/ds${i}\n    type: alpaca\n    fieldd_messages: m${i}`);
  for (let i = 0; i < 1500; i++) lines.push(`unknown_key_number_${i}: ${i % 3 ? '1e-4' : 'yes'}`);
  const doc = parseConfigDocument(lines.join('\n'));
  const diagnostics = validateDialect(doc, detectDialect(doc, null), { configDir: null });
  assert.ok(diagnostics.length <= 210, `${diagnostics.length} diagnostics`);
  assert.ok(diagnostics.some((d) => d.code === 'axolotl-qlora-needs-4bit'));
  assert.ok(diagnostics.some((d) => d.code === 'axolotl-unknown-key'));
});
