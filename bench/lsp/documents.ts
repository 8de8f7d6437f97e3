import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TextDocumentContentChangeEvent } from 'vscode-languageserver-protocol';
import { REPO } from './servers';

export interface BenchDocument {
  name: string;
  uri: string;
  text: string;
}

const PROJECTIONS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
const COMMENTS = [
  '# Rank and alpha follow the PEFT defaults we validated on this model family.',
  '# Keep this block in sync with the run sheet; the estimate reads it too.',
  '# Tried 8 and 32 here: 16 was the best trade-off between memory and loss.',
  '# Do not change without re-running the memory estimate on the target card.',
];

export function exampleDocuments(): BenchDocument[] {
  const dir = join(REPO, 'examples');
  return readdirSync(dir)
    .filter((name) => name.endsWith('.finetune.yaml'))
    .sort()
    .map((name) => ({ name, uri: pathToFileURL(join(dir, name)).href, text: readFileSync(join(dir, name), 'utf8') }));
}

/**
 * A valid QLoRA config of about `lines` lines: the 7B example with `target_modules` written out as a list of one
 * module path per layer and projection (unique, so `uniqueItems` has work to do), and comment lines between keys.
 * Both servers parse and validate every line of it. Its uri sits in examples/ (never written there), so its
 * `data.train` resolves to the examples' dataset as theirs does.
 */
export function generatedDocument(lines: number): BenchDocument {
  const base = readFileSync(join(REPO, 'examples', 'qwen2.5-7b-qlora.finetune.yaml'), 'utf8').split('\n');
  const listLength = Math.floor(lines * 0.4);
  const list = Array.from(
    { length: listLength },
    (_, i) =>
      `    - model.layers.${Math.floor(i / PROJECTIONS.length)}.${i % 7 < 4 ? 'self_attn' : 'mlp'}.${PROJECTIONS[i % PROJECTIONS.length]}`,
  );
  const out: string[] = [];
  for (const line of base) {
    if (line.trim() === 'target_modules: all-linear') out.push('  target_modules:', ...list);
    else out.push(line);
  }
  // Comment lines above every key line but the first (whose header stays the example's two lines), spread evenly,
  // until the document reaches the wanted length.
  const keyLines = out
    .map((line, index) => (/^\s*[a-z_]+:/.test(line) ? index : -1))
    .filter((index) => index >= 0)
    .slice(1);
  const missing = Math.max(0, lines - out.length);
  const perKey = Math.floor(missing / keyLines.length);
  let extra = missing - perKey * keyLines.length;
  const result: string[] = [];
  for (let i = 0; i < out.length; i++) {
    if (keyLines.includes(i)) {
      const count = perKey + (extra-- > 0 ? 1 : 0);
      const indent = /^\s*/.exec(out[i]!)![0];
      for (let c = 0; c < count; c++) result.push(indent + COMMENTS[(i + c) % COMMENTS.length]!);
    }
    result.push(out[i]!);
  }
  const name = `generated-${lines}.finetune.yaml`;
  return {
    name: `${name} (generated)`,
    uri: pathToFileURL(join(REPO, 'examples', name)).href,
    text: result.join('\n'),
  };
}

/**
 * A large axolotl config of about `lines` lines: the corpus's openllama-3b LoRA example with `datasets` written out
 * as one flow mapping per dataset (40% of the lines; unique Hub ids) and comment lines between the top-level keys.
 * Our server claims it by its keys and checks it as axolotl; yaml-language-server validates it against the axolotl
 * schema (servers.ts) matched by the `.axolotl.yml` name.
 */
export function axolotlDocument(lines: number): BenchDocument {
  const base = readFileSync(
    join(REPO, 'test', 'fixtures', 'corpus', 'axolotl', 'examples__archived__openllama-3b__lora.yml'),
    'utf8',
  ).split('\n');
  const count = Math.floor(lines * 0.4);
  const datasets = Array.from({ length: count }, (_, i) => `  - { path: org${i % 97}/dataset-${i}, type: alpaca }`);
  const out: string[] = [];
  for (let i = 0; i < base.length; i++) {
    const line = base[i]!;
    if (line === 'datasets:') {
      out.push(line, ...datasets);
      while (base[i + 1]?.startsWith(' ')) i++;
    } else out.push(line);
  }
  const keyLines = out.map((line, index) => (/^[a-z_]+:/.test(line) ? index : -1)).filter((index) => index > 0);
  const perKey = Math.max(0, Math.floor((lines - out.length) / keyLines.length));
  const result: string[] = [];
  out.forEach((line, i) => {
    if (keyLines.includes(i)) for (let c = 0; c < perKey; c++) result.push(COMMENTS[(i + c) % COMMENTS.length]!);
    result.push(line);
  });
  const name = `large-${lines}.axolotl.yml`;
  // The modeline keeps the file axolotl while the edits misspell `base_model`, one of the keys that identify it.
  return {
    name: `${name} (generated axolotl)`,
    uri: pathToFileURL(join(REPO, 'examples', name)).href,
    text: ['# lora-lens: dialect=axolotl', ...result].join('\n'),
  };
}

interface Spot {
  kind: 'value' | 'key' | 'boolean';
  line: number;
}

export interface Edit {
  kind: 'change a value' | 'type in a key' | 'toggle a boolean';
  line: number;
  change: TextDocumentContentChangeEvent;
  /** True when the edit leaves a schema error behind (a key with an extra character). */
  seedsError: boolean;
}

/**
 * Realistic keystroke-sized edits, each undone by the next of its kind so the document stays the same on average:
 * an integer value goes up by one and back, a key gets one extra character and loses it again (an unknown key in
 * between), a boolean flips and flips back. Spots rotate through the document's key lines.
 */
export class EditScript {
  private readonly lines: string[];
  private readonly spots: Record<Spot['kind'], Spot[]>;
  private step = 0;

  constructor(text: string) {
    this.lines = text.split('\n');
    this.spots = { value: [], key: [], boolean: [] };
    this.lines.forEach((line, index) => {
      if (/^\s*[a-z_]+: \d+\s*$/.test(line)) this.spots.value.push({ kind: 'value', line: index });
      if (/^\s*[a-z_]+: (true|false)\s*$/.test(line)) this.spots.boolean.push({ kind: 'boolean', line: index });
      // A key with a value on its line: an unknown axolotl key left empty (`debug:`) is a harmless leftover that
      // neither tool reports, so it could not show that both servers saw the edit.
      if (/^\s*[a-z_]+:\s*\S/.test(line)) this.spots.key.push({ kind: 'key', line: index });
    });
    for (const kind of ['value', 'key', 'boolean'] as const) {
      if (!this.spots[kind].length) throw new Error(`no line to "${kind}" edit`);
    }
  }

  text(): string {
    return this.lines.join('\n');
  }

  next(): Edit {
    const kinds = ['value', 'key', 'boolean'] as const;
    const pair = Math.floor(this.step / 2);
    const undo = this.step % 2 === 1;
    const kind = kinds[pair % 3]!;
    const spots = this.spots[kind];
    const spot = spots[Math.floor(pair / 3) % spots.length]!;
    this.step++;
    const line = this.lines[spot.line]!;
    if (kind === 'value') {
      const match = /^(\s*[a-z_]+: )(\d+)/.exec(line)!;
      const value = Number(match[2]) + (undo ? -1 : 1);
      return this.apply('change a value', spot.line, match[1]!.length, match[0].length, String(value), false);
    }
    if (kind === 'boolean') {
      const match = /^(\s*[a-z_]+: )(true|false)/.exec(line)!;
      return this.apply(
        'toggle a boolean',
        spot.line,
        match[1]!.length,
        match[0].length,
        match[2] === 'true' ? 'false' : 'true',
        false,
      );
    }
    const keyEnd = line.indexOf(':');
    return undo
      ? this.apply('type in a key', spot.line, keyEnd - 1, keyEnd, '', false)
      : this.apply('type in a key', spot.line, keyEnd, keyEnd, 'x', true);
  }

  private apply(
    kind: Edit['kind'],
    line: number,
    start: number,
    end: number,
    newText: string,
    seedsError: boolean,
  ): Edit {
    const old = this.lines[line]!;
    this.lines[line] = old.slice(0, start) + newText + old.slice(end);
    const range = { start: { line, character: start }, end: { line, character: end } };
    return { kind, line, change: { range, text: newText }, seedsError };
  }
}
