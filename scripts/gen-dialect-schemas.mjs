// Writes schemas/axolotl.schema.json, schemas/llama-factory.schema.json and schemas/trl.schema.json from the facts in scripts/dialect-facts/.
// The facts (key names, types, enums, defaults, the argument group, the gate) come from each tool's source at a
// pinned commit; every description is ours. Run: node scripts/gen-dialect-schemas.mjs [--check]
// --check exits 1 when a written schema differs from what the facts produce (CI keeps them in step).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const factsDir = join(root, 'scripts', 'dialect-facts');

const GROUP_WORDS = {
  model: 'Model loading',
  tokenizer: 'Tokenizer',
  quantization: 'Quantization',
  adapter: 'Adapter (LoRA/PEFT)',
  data: 'Data',
  sequence: 'Sequence length and packing',
  batch: 'Batch size',
  optimizer: 'Optimizer',
  schedule: 'Schedule',
  precision: 'Precision',
  memory: 'Memory saving',
  attention: 'Attention',
  kernels: 'Kernels and compilation',
  distributed: 'Multi-GPU',
  checkpoint: 'Checkpoints',
  logging: 'Logging',
  eval: 'Evaluation',
  rl: 'Preference / RL training',
  multimodal: 'Multimodal',
  tracking: 'Experiment tracking',
  internal: 'Set by the tool itself',
  misc: 'General',
  output: 'Output',
  inference: 'Inference UI',
  training: 'Trainer (transformers TrainingArguments)',
  finetuning: 'Fine-tuning method',
  generating: 'Generation',
  megatron: 'Megatron backend',
  'kt-runtime': 'KTransformers runtime',
  script: 'Script (dataset)',
  datasets: 'Dataset mixture',
  trl: 'TRL trainer',
  sft: 'SFT trainer (`trl sft`)',
  dpo: 'DPO trainer (`trl dpo`)',
  launch: 'Launch (accelerate launch)',
};

const TYPE_WORDS = {
  bool: 'true or false',
  int: 'an integer',
  float: 'a number',
  number: 'a number',
  str: 'a string',
  dict: 'a mapping',
  any: 'any value',
  object: 'a mapping',
};

/** Parses one facts file (and the files it includes) into { meta, facts }. */
function readFacts(file) {
  const meta = { version: [], source: [], includes: [], describe: new Map() };
  const facts = [];
  for (const [index, raw] of readFileSync(join(factsDir, file), 'utf8').split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (line.startsWith('@')) {
      const [directive, ...rest] = line.slice(1).split(' ');
      if (directive === 'describe') {
        const [key, ...text] = rest
          .join(' ')
          .split('|')
          .map((cell) => cell.trim());
        meta.describe.set(key, text.join('|').trim());
        continue;
      }
      if (directive === 'include') {
        const included = readFacts(rest.join(' '));
        meta.includes.push({ file: rest.join(' '), version: included.meta.version });
        facts.push(...included.facts);
      } else (meta[directive] ??= []).push(rest.join(' '));
      continue;
    }
    const [key, type, defaultText, group, gate, ...description] = line.split('|').map((cell) => cell.trim());
    if (!key || !type || !group)
      throw new Error(`${file}:${index + 1}: expected "key | type | default | group | gate | description"`);
    facts.push({
      key,
      type,
      defaultText: defaultText ?? '',
      group,
      gate: gate ?? '',
      description: description.join('|').trim(),
      origin: file,
    });
  }
  for (const fact of facts) {
    if (meta.describe.has(fact.key)) fact.description = meta.describe.get(fact.key);
  }
  const unknown = [...meta.describe.keys()].filter((key) => !facts.some((fact) => fact.key === key));
  if (unknown.length) throw new Error(`${file}: @describe names keys that have no facts: ${unknown.join(', ')}`);
  return { meta, facts };
}

/** Our type notation (`bool/enum(auto)`, `list[str]`, `str!`) as a JSON-schema fragment. */
function typeSchema(text) {
  const alternatives = splitTop(text, '/').map(single);
  return alternatives.length === 1 ? alternatives[0] : { anyOf: alternatives };
}

function single(text) {
  const enumMatch = /^enum\((.*)\)$/.exec(text);
  if (enumMatch) return { enum: enumMatch[1].split(',').map((v) => v.trim()) };
  const listMatch = /^list\[(.*)\]$/.exec(text);
  if (listMatch)
    return listMatch[1] === 'object'
      ? { type: 'array', items: { type: 'object', properties: {} } }
      : { type: 'array', items: single(listMatch[1]) };
  switch (text) {
    case 'bool':
      return { type: 'boolean' };
    case 'int':
      return { type: 'integer' };
    case 'float':
    case 'number':
      return { type: 'number' };
    case 'str':
      return { type: 'string' };
    case 'dict':
      return { type: 'object' };
    case 'object':
      return { type: 'object', properties: {} };
    case 'any':
      return {};
    default:
      throw new Error(`unknown type notation: ${text}`);
  }
}

/** Splits on `sep` outside brackets and parentheses. */
function splitTop(text, sep) {
  const parts = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(' || ch === '[') depth++;
    if (ch === ')' || ch === ']') depth--;
    if (ch === sep && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

function parseDefault(text, type) {
  if (text === '') return undefined;
  if (text === 'true' || text === 'false') return text === 'true';
  if (/^-?\d+$/.test(text) && !/(^|\/)str($|\/)/.test(type)) return Number(text);
  if (/^-?(\d+\.\d*|\d*\.\d+|\d+)(e[-+]?\d+)?$/i.test(text) && !/(^|\/)str($|\/)/.test(type)) return Number(text);
  if (/^[[{]/.test(text)) return JSON.parse(text);
  return text;
}

/** The gate column as structured data. */
function parseGate(gate) {
  const out = {};
  for (const part of gate
    .split(';')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [kind, value = ''] = part.split(/:(.*)/s);
    if (kind === 'plugin') out.plugin = value;
    else if (kind === 'env') out.env = value.split(',');
    else if (kind === 'alias') out.aliasOf = value;
    else if (kind === 'deprecated') out.deprecatedFor = value;
    else if (kind === 'seen') out.provenance = 'examples';
    else if (kind === 'open') out.open = true;
    else if (kind === 'unverified') out.provenance = 'unverified';
    else if (kind === 'transformers<5') out.transformers = '<5';
    else throw new Error(`unknown gate: ${part}`);
  }
  return out;
}

/** A short factual description for keys that have none of ours. */
function generatedDescription(tool, fact, gate, defaultValue) {
  const kind = fact.type.replace('!', '');
  const typeText = splitTop(kind, '/')
    .map(
      (t) =>
        TYPE_WORDS[t] ??
        (t.startsWith('enum(')
          ? `one of ${t
              .slice(5, -1)
              .split(',')
              .map((v) => `\`${v}\``)
              .join(', ')}`
          : t.startsWith('list[')
            ? 'a list'
            : t),
    )
    .join(' or ');
  const parts = [`${GROUP_WORDS[fact.group] ?? fact.group} setting of ${tool}: ${typeText}.`];
  if (defaultValue !== undefined) parts.push(`Default: \`${JSON.stringify(defaultValue)}\`.`);
  if (gate.aliasOf) parts.push(`Another name for \`${gate.aliasOf}\`.`);
  if (gate.deprecatedFor) parts.push(`Deprecated: use \`${gate.deprecatedFor}\`.`);
  return parts.join(' ');
}

function gateNote(tool, gate) {
  const notes = [];
  if (gate.plugin) notes.push(`Read only when \`plugins:\` lists \`${gate.plugin}\`.`);
  if (gate.env?.includes('transformers-kt'))
    notes.push("Known to the KTransformers build of transformers (LLaMA-Factory's KT training path).");
  else if (gate.env)
    notes.push(`Exists only when ${tool} runs with ${gate.env.map((v) => `\`${v}=1\``).join(' or ')}.`);
  if (gate.transformers) notes.push('A transformers 4.x TrainingArguments field (removed in 5.x).');
  return notes.join(' ');
}

/**
 * A tool's releases file (`<dialect>.releases`): the releases kept, and per key the release that added it, or removed
 * or renamed it with what replaces it. Returns null when the dialect keeps no releases.
 */
function readReleases(file) {
  let text;
  try {
    text = readFileSync(join(factsDir, file), 'utf8');
  } catch {
    return null;
  }
  const releases = [];
  const added = new Map();
  const removed = {};
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (line.startsWith('@release ')) {
      const [version, commit, date] = line.slice('@release '.length).split(/\s+/);
      releases.push({ version, commit, date });
      continue;
    }
    const [key, change, release, replacement = '', ...why] = line.split('|').map((cell) => cell.trim());
    const where = `${file}:${index + 1}`;
    if (!key || !release) throw new Error(`${where}: expected "key | added|removed|renamed | release | ..."`);
    if (change === 'added') {
      // A key removed again later (LLaMA-Factory's first KTransformers keys) keeps its first release in `removed`.
      if (removed[key]) removed[key].added = release;
      else added.set(key, release);
    } else if (change === 'removed' || change === 'renamed') {
      if (!replacement) throw new Error(`${where}: a ${change} key names what replaces it`);
      removed[key] = {
        since: release,
        change: why.join('|').trim(),
        instead: change === 'renamed' ? `\`${replacement}\`` : replacement,
        ...(change === 'renamed' ? { renameTo: replacement } : {}),
        ...(added.has(key) ? { added: added.get(key) } : {}),
      };
      added.delete(key);
    } else throw new Error(`${where}: unknown change ${change}`);
  }
  return { releases, added, removed };
}

/** Puts the releases into the schema: the list, `x-since` on keys added in a release kept, the removed keys. */
function applyReleases(schema, releases, file) {
  schema['x-lora-lens'].releases = releases.releases;
  for (const [key, release] of releases.added) {
    const property = schema.properties[key];
    if (!property) throw new Error(`${file}: ${key} is added in ${release} but is not a key of the schema`);
    if (!releases.releases.some((r) => r.version === release))
      throw new Error(`${file}: ${key}: ${release} is not an @release`);
    property['x-since'] = release;
    // The hover says it: a file checked against an older release does not have the key.
    property.description = `${property.description} Since ${schema['x-lora-lens'].tool} ${release}.`;
  }
  for (const key of Object.keys(releases.removed))
    if (schema.properties[key]) throw new Error(`${file}: ${key} is removed but is still a key of the schema`);
  schema['x-lora-lens'].removed = releases.removed;
}

/**
 * One `when` clause of a checks file as data: `k`, `!k`, `k?`, `!k?`, `k*`, `!k*`, `k=v`, `k!=v`, `k>N`, `k<N`, `k<=N`,
 * `k>@j`, `k%@j`, `k~text`, `k~~text`, `k^text`, `#k!=#j`, `#k>N`, `+a,b,c>N`, `+a,b,c<N`; a key may be a derived
 * fact, `$name` (server/src/core/dialects/toolFacts.ts).
 */
function parseClause(text, where) {
  const K = '([\\w.$]+)';
  const forms = [
    [new RegExp(`^#${K}!=#${K}$`), (m) => ({ op: 'countNe', key: m[1], other: m[2] })],
    [new RegExp(`^#${K}>(\\d+)$`), (m) => ({ op: 'lengthGt', key: m[1], value: Number(m[2]) })],
    [
      /^\+([\w.$]+(?:,[\w.$]+)+)([<>])(\d+)$/,
      (m) => {
        const keys = m[1].split(',');
        return { op: 'truthyCount', key: keys[0], keys, cmp: m[2] === '>' ? 'gt' : 'lt', value: Number(m[3]) };
      },
    ],
    [new RegExp(`^!${K}\\*$`), (m) => ({ op: 'notValidated', key: m[1] })],
    [new RegExp(`^!${K}\\?$`), (m) => ({ op: 'unset', key: m[1] })],
    [new RegExp(`^!${K}$`), (m) => ({ op: 'falsy', key: m[1] })],
    [new RegExp(`^${K}\\*$`), (m) => ({ op: 'validated', key: m[1] })],
    [new RegExp(`^${K}\\?$`), (m) => ({ op: 'set', key: m[1] })],
    [new RegExp(`^${K}!=(.+)$`), (m) => ({ op: 'ne', key: m[1], values: m[2].split(',').map(literal) })],
    [new RegExp(`^${K}<=(-?[\\d.]+)$`), (m) => ({ op: 'le', key: m[1], value: Number(m[2]) })],
    [new RegExp(`^${K}=(.+)$`), (m) => ({ op: 'eq', key: m[1], values: m[2].split(',').map(literal) })],
    [new RegExp(`^${K}>@${K}$`), (m) => ({ op: 'gtKey', key: m[1], other: m[2] })],
    [new RegExp(`^${K}%@${K}$`), (m) => ({ op: 'notMultiple', key: m[1], other: m[2] })],
    [new RegExp(`^${K}>(-?[\\d.]+)$`), (m) => ({ op: 'gt', key: m[1], value: Number(m[2]) })],
    [new RegExp(`^${K}<(-?[\\d.]+)$`), (m) => ({ op: 'lt', key: m[1], value: Number(m[2]) })],
    [new RegExp(`^${K}~~(.+)$`), (m) => ({ op: 'containsCi', key: m[1], text: m[2] })],
    [new RegExp(`^${K}~(.+)$`), (m) => ({ op: 'contains', key: m[1], text: m[2] })],
    [new RegExp(`^${K}\\^(.+)$`), (m) => ({ op: 'startsWith', key: m[1], text: m[2] })],
    [new RegExp(`^${K}$`), (m) => ({ op: 'truthy', key: m[1] })],
  ];
  for (const [pattern, build] of forms) {
    const m = pattern.exec(text.trim());
    if (m) return build(m);
  }
  throw new Error(`${where}: cannot read the clause "${text}"`);
}

function literal(text) {
  if (text === 'true' || text === 'false') return text === 'true';
  if (text === 'null') return null;
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  return text.replace(/^"(.*)"$/, '$1');
}

/** The derived facts' names (TOOL_FACTS in toolFacts.ts), which a checks file may read as `$name`. */
const derivedFacts = new Set(
  [
    ...readFileSync(join(root, 'server', 'src', 'core', 'dialects', 'toolFacts.ts'), 'utf8')
      .split('export const TOOL_FACTS')[1]
      .matchAll(/^ {2}(\w+):/gm),
  ].map((m) => m[1]),
);

const RELEASE = '\\d+(?:\\.\\d+)+(?:\\.dev\\d+)?';

/**
 * A check's since cell: `?` (no release established: checked for every release), `R` (raised from R on), `R..U`
 * (this wording and condition from R until U, which raises it otherwise: a later row says how), and either with
 * ` (condition C)` where the condition was raised from an earlier release C in other words (a reworded message).
 */
function readCheckReleases(cell, where) {
  if (cell === '?') return { since: null };
  const m = new RegExp(`^(${RELEASE})(?:\\.\\.(${RELEASE}))?(?: \\(condition (${RELEASE})\\))?$`).exec(cell);
  if (!m) throw new Error(`${where}: since must be a release (0.16.0), R..U, R (condition C) or ?, not "${cell}"`);
  return { since: m[1], ...(m[2] ? { until: m[2] } : {}), ...(m[3] ? { conditionSince: m[3] } : {}) };
}

/** A tool's checks file (`<dialect>.checks`): the validators that stop a run, as data; every key must be the schema's. */
function readChecks(file, schema) {
  let text;
  try {
    text = readFileSync(join(factsDir, file), 'utf8');
  } catch {
    return null;
  }
  const checks = [];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const where = `${file}:${index + 1}`;
    const [code, source, since, plugin, when, at, ...says] = line.split('|').map((cell) => cell.trim());
    if (!code || !source || !since || !plugin || !when || !at || !says.length)
      throw new Error(`${where}: expected "code | source | since | plugin | when | key | message"`);
    const releases = readCheckReleases(since, where);
    const clauses = when.split(' & ').map((c) => parseClause(c, where));
    for (const key of [at, ...clauses.flatMap((c) => [c.key, c.other, ...(c.keys ?? [])].filter(Boolean))]) {
      if (key.startsWith('$')) {
        if (!derivedFacts.has(key.slice(1))) throw new Error(`${where}: ${key} is not a fact of toolFacts.ts`);
      } else if (!schema.properties[key.split('.')[0]]) throw new Error(`${where}: ${key} is not a key of the schema`);
    }
    checks.push({
      code,
      source,
      ...releases,
      ...(plugin === '-' ? {} : { plugin }),
      when: clauses,
      at,
      says: says.join('|'),
    });
  }
  return checks;
}

/** Builds the JSON schema of one dialect from its facts. */
function buildSchema({ dialect, tool, facts, meta, open }) {
  const schema = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: `https://lora-lens.dev/schemas/${dialect}.schema.json`,
    title: `${tool} config, as LoRA Lens reads it`,
    description: `Keys, types, enums and defaults of ${tool} ${meta.version.map((v) => v.split(' ').slice(1).join(' ')).join(', ')}; descriptions written by LoRA Lens. Generated by scripts/gen-dialect-schemas.mjs: do not edit.`,
    type: 'object',
    'x-lora-lens': {
      dialect,
      tool,
      version: meta.version,
      source: meta.source,
      includes: meta.includes,
      unknownKeys: open ? 'ignored' : 'error',
    },
    properties: {},
    required: [],
    additionalProperties: true,
  };
  for (const fact of facts) {
    const segments = fact.key.split('.');
    let parent = schema;
    for (const segment of segments.slice(0, -1)) {
      const name = segment.replace(/\[\]$/, '');
      let node = parent.properties[name];
      if (!node) throw new Error(`${fact.origin}: ${fact.key}: parent ${name} is not declared before it`);
      if (segment.endsWith('[]')) node = node.items ?? node.anyOf?.find((a) => a.items)?.items;
      if (!node?.properties) throw new Error(`${fact.origin}: ${fact.key}: ${name} is not an object`);
      parent = node;
    }
    const name = segments[segments.length - 1];
    const required = fact.type.endsWith('!');
    const type = fact.type.replace(/!$/, '');
    const gate = parseGate(fact.gate);
    const defaultValue = parseDefault(fact.defaultText, type);
    const ours = fact.description || generatedDescription(tool, fact, gate, defaultValue);
    const note = gateNote(tool, gate);
    const property = { ...typeSchema(type), description: note ? `${ours} ${note}` : ours, 'x-group': fact.group };
    if (defaultValue !== undefined) property.default = defaultValue;
    if (Object.keys(gate).length) property['x-gate'] = gate;
    if (fact.description) property['x-described'] = true;
    if (parent.properties[name]) throw new Error(`${fact.origin}: duplicate key ${fact.key}`);
    parent.properties[name] = property;
    if (required) (parent.required ??= []).push(name);
  }
  return schema;
}

const targets = [
  { dialect: 'axolotl', tool: 'axolotl', file: 'axolotl.facts', open: true },
  { dialect: 'llama-factory', tool: 'LLaMA-Factory', file: 'llama-factory.facts', open: false },
  { dialect: 'trl', tool: 'TRL', file: 'trl.facts', open: false },
];

let stale = false;
for (const target of targets) {
  const { meta, facts } = readFacts(target.file);
  const schema = buildSchema({ ...target, facts, meta });
  const releasesFile = `${target.file.replace(/\.facts$/, '')}.releases`;
  const releases = readReleases(releasesFile);
  if (releases) applyReleases(schema, releases, releasesFile);
  const checks = readChecks(`${target.file.replace(/\.facts$/, '')}.checks`, schema);
  if (checks) schema['x-lora-lens'].checks = checks;
  if (target.dialect === 'llama-factory') {
    schema['x-lora-lens'].commands = {
      train: ['model', 'data', 'training', 'finetuning', 'generating', 'megatron'],
      inference: ['model', 'data', 'finetuning', 'generating', 'kt-runtime'],
      export: ['model', 'data', 'finetuning', 'generating', 'kt-runtime'],
    };
  }
  // `trl sft` and `trl dpo` parse ScriptArguments, their own config, ModelConfig and DatasetMixtureConfig; the rest goes to accelerate launch.
  if (target.dialect === 'trl') {
    const common = ['script', 'model', 'datasets', 'training', 'trl', 'launch'];
    schema['x-lora-lens'].commands = { sft: [...common, 'sft'], dpo: [...common, 'dpo'] };
  }
  const text = `${JSON.stringify(schema, null, 2)}\n`;
  const out = join(root, 'schemas', `${target.dialect}.schema.json`);
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(out, 'utf8');
    } catch {
      /* missing counts as stale */
    }
    if (current !== text) {
      console.error(`${out} is out of date: run node scripts/gen-dialect-schemas.mjs`);
      stale = true;
    }
  } else {
    writeFileSync(out, text);
    console.log(`${out}: ${facts.length} keys`);
  }
}
if (stale) process.exit(1);
