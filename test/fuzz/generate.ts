import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const FUZZ_SEED = 0x10a1e5;

/** A generated document: what made it (for the failure message) and its text. */
export interface FuzzDocument {
  name: string;
  text: string;
}

/** mulberry32: small, fast and the same on every machine, so a failure names a document anyone can regenerate. */
export class Random {
  constructor(private state: number) {}

  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(max: number): number {
    return Math.floor(this.next() * max);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

const EXAMPLES = readdirSync(join(__dirname, '..', '..', 'examples'))
  .filter((name) => name.endsWith('.finetune.yaml'))
  .sort()
  .map((name) => readFileSync(join(__dirname, '..', '..', 'examples', name), 'utf8'));

/** The axolotl and LLaMA-Factory example configs of the corpus: their documents go through the dialect path. */
const CORPUS = join(__dirname, '..', 'fixtures', 'corpus');
const DIALECT_EXAMPLES = ['axolotl', 'llama-factory'].flatMap((tool) =>
  readdirSync(join(CORPUS, tool))
    .sort()
    .map((name) => readFileSync(join(CORPUS, tool, name), 'utf8')),
);

/** Values axolotl and LLaMA-Factory read in their own way (YAML 1.1 scalars, plugin and env-gated keys, lists). */
const DIALECT_TOKENS = [
  'adapter: qlora',
  'load_in_4bit: false',
  'load_in_8bit: true',
  'warmup_steps: 0.1',
  'learning_rate: 1e-4',
  'learning_rate: "2e-4"',
  'lora_r: 0',
  'lora_target_modules: []',
  'lora_target_linear: yes',
  'gradient_checkpointing: offload',
  'bf16: auto',
  'plugins:\n  - axolotl.integrations.liger.LigerPlugin',
  'datasets:\n  - path: ',
  'finetuning_type: full',
  'quantization_bit: 3',
  'lora_target: all',
  'dataset: a,b,,c',
  'stage: rm',
  'deepspeed: ds_z3.json',
  'fsdp_config: {}',
  'micro_batch_size: 0',
  'num_epochs: .inf',
  '0755',
  'on',
  '~',
];

/** Tokens that mean something to a YAML parser, spliced into examples. */
const TOKENS = [
  ':',
  ': ',
  '- ',
  '-',
  '? ',
  '&a ',
  '*a',
  '*b',
  '!!str ',
  '!!map',
  '!tag ',
  '|',
  '|-',
  '>',
  '"',
  "'",
  '#',
  '%YAML 1.2\n',
  '---\n',
  '...\n',
  '\t',
  '\r',
  '\r\n',
  '\n',
  '[',
  ']',
  '{',
  '}',
  ',',
  '<<: *a',
  '~',
  'null',
  'true',
  '1e309',
  '-.inf',
  '.nan',
  '0x1F',
  '\u0000',
  '\ufeff',
  '\ud800',
  '\udfff',
  'r: -1',
  'lora_dropout: 1',
  'method: qlora',
  'method: full',
  'quantization:\n  load_in_4bit: false',
  'target_modules: []',
  'model: {}',
  'lora_alpa: 3',
];

/** Random UTF-16 code units, lone surrogates and control characters included. */
function randomUnits(random: Random, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) {
    const kind = random.int(10);
    if (kind < 5) out += String.fromCharCode(32 + random.int(95));
    else if (kind < 6)
      out += random.pick(['\n', '\t', '\r', ' ', ':', '-', '#', '&', '*', '!', '|', '>', '{', '[', '"']);
    else if (kind < 7) out += String.fromCharCode(0xd800 + random.int(0x800));
    else if (kind < 8) out += String.fromCharCode(random.int(32));
    else out += String.fromCharCode(random.int(0x10000));
  }
  return out;
}

/** Random bytes read as UTF-8 the way a file with non-UTF-8 content reaches the server (U+FFFD replacements). */
function randomBytes(random: Random, length: number): string {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = random.int(256);
  return bytes.toString(random.int(2) ? 'utf8' : 'latin1');
}

function mutate(random: Random, text: string): string {
  let out = text;
  const edits = 1 + random.int(6);
  for (let e = 0; e < edits; e++) {
    const at = random.int(out.length + 1);
    switch (random.int(8)) {
      case 0:
        out = out.slice(0, at) + out.slice(at + 1 + random.int(20));
        break;
      case 1:
        out = out.slice(0, at) + random.pick(TOKENS) + out.slice(at);
        break;
      case 2:
        out = out.slice(0, at) + randomUnits(random, 1 + random.int(8)) + out.slice(at);
        break;
      case 3: {
        const lines = out.split('\n');
        const line = random.int(lines.length);
        lines.splice(random.int(lines.length), 0, lines[line]!);
        out = lines.join('\n');
        break;
      }
      case 4: {
        const lines = out.split('\n');
        const line = random.int(lines.length);
        lines[line] = (random.int(2) ? '\t' : ' '.repeat(1 + random.int(5))) + lines[line];
        out = lines.join('\n');
        break;
      }
      case 5:
        out = out.slice(0, at) + out.slice(random.int(out.length + 1));
        break;
      case 6:
        out = out.replace(
          /: (\S+)/,
          random.pick([': [', ': {', ': &a ', ': *a', ': !!int x', ': "', ': |', ': 1e400', ': -0', ': ""']),
        );
        break;
      default:
        out = out
          .split('\n')
          .map((line) => (random.int(5) === 0 ? line.replace(/^( *)/, '$1$1') : line))
          .join('\n');
    }
  }
  return out;
}

function nested(random: Random, depth: number): string {
  switch (random.int(6)) {
    case 0:
      return `${'['.repeat(depth)}1${']'.repeat(depth)}`;
    case 1:
      return `model: ${'{a: '.repeat(depth)}1${'}'.repeat(depth)}\n`;
    case 2:
      return Array.from({ length: depth }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n') + ' 1\n';
    case 3:
      return Array.from({ length: depth }, (_, i) => `${' '.repeat(2 * i)}- `).join('\n') + 'x\n';
    case 4:
      return `${'- '.repeat(depth)}x\n`;
    default:
      return `lora:\n  target_modules: ${'['.repeat(depth)}${']'.repeat(random.int(depth + 1))}\n`;
  }
}

/** Billion laughs: each level an anchored list of ten aliases to the level below. */
function aliasBomb(levels: number, width: number): string {
  const lines = ['model: Qwen/Qwen2.5-7B-Instruct', 'method: lora', 'data: {train: data/train.jsonl}', 'a0: &a0 [lol]'];
  for (let level = 1; level <= levels; level++) {
    lines.push(`a${level}: &a${level} [${Array.from({ length: width }, () => `*a${level - 1}`).join(', ')}]`);
  }
  return `${lines.join('\n')}\n`;
}

function special(random: Random, index: number): FuzzDocument {
  const example = random.pick(EXAMPLES);
  const cases: Array<() => FuzzDocument> = [
    () => ({ name: 'huge scalar value', text: `${example}\nmodel: ${'x'.repeat(200_000 + random.int(800_000))}\n` }),
    () => ({ name: 'huge key', text: `${'k'.repeat(100_000 + random.int(400_000))}: 1\n${example}` }),
    () => ({ name: 'huge quoted scalar with escapes', text: `model: "${'\\u00e9\\n'.repeat(50_000)}"\n` }),
    () => ({ name: 'huge block scalar', text: `model: |\n${'  line of text\n'.repeat(20_000 + random.int(20_000))}` }),
    () => ({ name: 'file over the size limit (~5 MB)', text: `${example}# ${'y'.repeat(5 * 1024 * 1024)}\n` }),
    () => ({ name: 'alias bomb (billion laughs)', text: aliasBomb(8 + random.int(3), 10) }),
    () => ({
      name: 'alias bomb in a config value',
      text: `x: &x [a, a, a, a, a, a, a, a, a, a]\n${Array.from({ length: 9 }, (_, i) => `x${i}: &x${i} [${`*${i ? `x${i - 1}` : 'x'}, `.repeat(9)}*${i ? `x${i - 1}` : 'x'}]`).join('\n')}\n${example.replace('target_modules: all-linear', 'target_modules: *x8')}`,
    }),
    () => ({ name: 'deep nesting', text: nested(random, 1000 + random.int(4000)) }),
    () => ({
      name: 'many documents',
      text: Array.from({ length: 200 + random.int(800) }, () => example).join('---\n'),
    }),
    () => ({ name: 'tabs everywhere', text: example.replace(/ {2}/g, '\t') }),
    () => ({ name: 'CRLF and BOM', text: `\ufeff${example.replace(/\n/g, '\r\n')}` }),
    () => ({
      name: 'leading comment block',
      text: `${'# header comment line\n'.repeat(10 + random.int(50))}${example}`,
    }),
    () => ({ name: 'only comments', text: '# just a comment\n'.repeat(1 + random.int(5000)) }),
    () => ({
      name: 'many keys',
      text: Array.from({ length: 15_000 + random.int(15_000) }, (_, i) => `key_${i}: ${i}`).join('\n'),
    }),
    () => ({
      name: 'long target_modules list',
      text: example.replace(
        'target_modules: all-linear',
        `target_modules: [${Array.from({ length: 20_000 }, (_, i) => `m${i % 5000}`).join(', ')}]`,
      ),
    }),
    () => ({
      name: 'JSON config',
      text: JSON.stringify(
        { model: 'Qwen/Qwen2.5-0.5B-Instruct', method: 'full', data: { train: 'data/train.jsonl' } },
        null,
        random.int(2) ? 2 : undefined,
      ),
    }),
    () => ({ name: 'empty', text: random.pick(['', ' ', '\n\n', '\t', '---', '...', '#']) }),
  ];
  const make = cases[index % cases.length]!;
  return make();
}

/**
 * `count` documents from `seed`: mostly mutated examples (ours and the corpus's axolotl/LLaMA-Factory configs, about
 * two in seven) and random text (cheap), and every 40th a hostile special
 * case (huge, deep, alias bombs, tabs, multi-document). The same seed gives the same documents.
 */
export function generateDocuments(count: number, seed = FUZZ_SEED): FuzzDocument[] {
  const random = new Random(seed);
  const docs: FuzzDocument[] = [];
  for (let i = 0; i < count; i++) {
    let doc: FuzzDocument;
    if (i % 40 === 39) doc = special(random, Math.floor(i / 40));
    else {
      switch (random.int(7)) {
        case 5:
          doc = { name: 'mutated axolotl/LLaMA-Factory example', text: mutate(random, random.pick(DIALECT_EXAMPLES)) };
          break;
        case 6: {
          const lines = random.pick(DIALECT_EXAMPLES).split('\n');
          for (let k = 1 + random.int(4); k > 0; k--)
            lines.splice(random.int(lines.length + 1), 0, random.pick(DIALECT_TOKENS));
          const modeline =
            random.int(4) === 0
              ? `# lora-lens: dialect=${random.pick(['axolotl', 'llama-factory', 'lora-lens'])}\n`
              : '';
          doc = { name: 'axolotl/LLaMA-Factory example with dialect values', text: modeline + lines.join('\n') };
          break;
        }
        case 0:
          doc = { name: 'random UTF-16 units', text: randomUnits(random, random.int(400)) };
          break;
        case 1:
          doc = { name: 'random bytes', text: randomBytes(random, random.int(400)) };
          break;
        case 2:
          doc = { name: 'nesting', text: nested(random, 1 + random.int(200)) };
          break;
        default:
          doc = { name: 'mutated example', text: mutate(random, random.pick(EXAMPLES)) };
      }
    }
    docs.push({ name: `#${i} ${doc.name}`, text: doc.text });
  }
  return docs;
}
