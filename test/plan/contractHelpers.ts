// Helpers of the cross-language contract tests: the Python to run, and configs that exercise every option.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

type Obj = Record<string, unknown>;

export const REPO = join(__dirname, '..', '..');

/** LORA_LENS_TEST_PYTHON (CI's venv), else Debian's python3 (plan.py and events.py need no torch), else python3 on PATH. */
export function trainerPython(): string {
  return process.env.LORA_LENS_TEST_PYTHON || (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
}

export interface PythonRead {
  file: string;
  ok: boolean;
  plan?: Obj;
  keys?: string[];
  message?: string;
}

/** Reads every file with trainer/lora_lens_trainer/plan.py (tests/read_plans.py), one Python process for all. */
export function readWithPython(files: string[]): Map<string, PythonRead> {
  const result = spawnSync(trainerPython(), ['tests/read_plans.py', ...files], {
    cwd: join(REPO, 'trainer'),
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: join(REPO, 'trainer') },
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(
    result.status,
    0,
    `read_plans.py failed (python: ${trainerPython()}):\n${result.stderr}${result.error ?? ''}`,
  );
  const rows = result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as PythonRead);
  assert.equal(rows.length, files.length, result.stderr);
  return new Map(rows.map((row) => [row.file, row]));
}

export function withTempDir<T>(body: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'lora-lens-plan-contract-'));
  try {
    return body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every key the TypeScript plan has, Python read back with the same value (Python may add only optional keys' defaults). */
export function assertReadBack(python: unknown, ts: unknown, where: string): void {
  if (ts !== null && typeof ts === 'object' && !Array.isArray(ts)) {
    assert.ok(python !== null && typeof python === 'object', `${where}: Python read ${JSON.stringify(python)}`);
    for (const [key, value] of Object.entries(ts))
      assertReadBack((python as Obj)[key], value, where ? `${where}.${key}` : key);
    return;
  }
  assert.deepEqual(
    python,
    ts,
    `${where}: TypeScript wrote ${JSON.stringify(ts)}, Python read ${JSON.stringify(python)}`,
  );
}

/** Writes each plan as plan.json would be written, reads all back with the Python reader: each accepted, field for field. */
export function assertPythonReadsBack(cases: Array<{ name: string; plan: unknown }>): void {
  withTempDir((dir) => {
    const files = cases.map((c, i) => {
      const file = join(dir, `${i}.plan.json`);
      writeFileSync(file, `${JSON.stringify(c.plan, null, 2)}\n`);
      return file;
    });
    const read = readWithPython(files);
    files.forEach((file, i) => {
      const row = read.get(file)!;
      assert.ok(row.ok, `${cases[i]!.name}: the Python reader refused it:\n${row.message}`);
      assertReadBack(row.plan, cases[i]!.plan, '');
    });
  });
}

type Schema = { type?: string | string[]; enum?: unknown[]; anyOf?: Schema[]; properties?: Record<string, Schema> };

export interface OptionConfig {
  name: string;
  /** Config text (JSON, which is YAML too). */
  text: string;
  /** Where the option landed in the plan, and what it should be there. */
  read: (plan: unknown) => unknown;
  expected: unknown;
}

/** The folder the option configs pretend to live in (buildPlan resolves paths against it). */
export const OPTION_CONFIG_DIR = resolve('/work/project');

const at = (path: string[]) => (plan: unknown) =>
  path.reduce<unknown>((v, k) => (v as Record<string, unknown> | null)?.[k], plan);

function methodFor(path: string[], value: unknown): string {
  if (path[0] === 'method') return String(value);
  if (path[0] === 'quantization' || path[0] === 'output') return 'qlora';
  return 'lora';
}

function configWith(path: string[], value: unknown, method: string): Record<string, unknown> {
  const config: Record<string, unknown> = { model: 'Qwen/Qwen2.5-0.5B', method, data: { train: 'data/train.jsonl' } };
  if (path[0] === 'model') config.model = { name_or_path: 'Qwen/Qwen2.5-0.5B' };
  // A preference block is read only beside its objective (and refused beside objective sft).
  if (['dpo', 'orpo', 'simpo', 'kto'].includes(path[0]!)) config.objective = path[0];
  let parent = config;
  for (const key of path.slice(0, -1)) parent = (parent[key] ??= {}) as Record<string, unknown>;
  parent[path[path.length - 1]!] = value;
  return config;
}

/** The values a config-schema leaf can take that change the plan: each enum value, both booleans, each anyOf form. */
function valuesOf(schema: Schema): unknown[] {
  if (schema.enum) return schema.enum;
  if (schema.type === 'boolean') return [true, false];
  if (schema.anyOf?.some((b) => b.type === 'array'))
    return schema.anyOf.flatMap((b) => (b.enum ? b.enum : b.type === 'array' ? [['q_proj', 'v_proj']] : []));
  return [];
}

function leaves(schema: Schema, path: string[]): Array<{ path: string[]; schema: Schema }> {
  const object = schema.properties ? schema : schema.anyOf?.find((b) => b.properties);
  if (!object?.properties) return path.length ? [{ path, schema }] : [];
  return Object.entries(object.properties).flatMap(([key, sub]) => leaves(sub, [...path, key]));
}

/** Values the config schema only takes together with others, or never: not options of their own. */
// `auto` is carried as checkpointing with checkpoint_auto, `offload` with activation_offloading (SPECIAL reads them).
const NOT_ALONE = new Set([
  'quantization.load_in_4bit=false',
  'training.gradient_checkpointing="auto"',
  'training.gradient_checkpointing="offload"',
]);

/** Options a value sweep does not reach: paths, numbers, and the object form of keys. */
const SPECIAL: Array<{ name: string; config: Record<string, unknown>; path: string[]; expected: unknown }> = [
  {
    name: 'gradient_checkpointing: auto',
    config: { training: { gradient_checkpointing: 'auto' } },
    path: ['training', 'checkpoint_auto'],
    expected: true,
  },
  {
    name: 'gradient_checkpointing: offload',
    config: { training: { gradient_checkpointing: 'offload' } },
    path: ['training', 'activation_offloading'],
    expected: true,
  },
  {
    name: 'an eval set with eval_steps',
    config: { data: { train: 'data/train.jsonl', eval: 'data/eval.jsonl' }, training: { eval_steps: 50 } },
    path: ['data', 'eval'],
    expected: join(OPTION_CONFIG_DIR, 'data/eval.jsonl'),
  },
  {
    name: 'a pinned model revision',
    config: { model: { name_or_path: 'Qwen/Qwen2.5-0.5B', revision: 'main' } },
    path: ['model', 'revision'],
    expected: 'main',
  },
  {
    name: 'a relative output.dir',
    config: { output: { dir: 'runs/mine' } },
    path: ['output', 'dir'],
    expected: join(OPTION_CONFIG_DIR, 'runs/mine'),
  },
  {
    name: 'merge into the original base, float16',
    config: { method: 'qlora', output: { merge: true, merge_base: 'original', merge_dtype: 'float16' } },
    path: ['output'],
    expected: {
      dir: join(OPTION_CONFIG_DIR, 'runs/qwen2.5-0.5b-qlora'),
      merge: true,
      merge_dtype: 'float16',
      merge_base: 'original',
      safe_serialization: true,
    },
  },
  {
    name: 'max_steps and a checkpoint limit',
    config: { training: { max_steps: 1000, save_total_limit: 2, save_steps: 100 } },
    path: ['training', 'save_total_limit'],
    expected: 2,
  },
  {
    name: 'fractional epochs and warm-up',
    config: {
      training: { num_train_epochs: 0.5, warmup_ratio: 0.1, warmup_steps: 10, gradient_accumulation_steps: 4 },
    },
    path: ['training', 'num_train_epochs'],
    expected: 0.5,
  },
  {
    name: 'target_modules as a regular expression',
    config: { lora: { target_modules: '.*\\.(q|k|v|o|gate|up|down)_proj' } },
    path: ['lora', 'target_modules'],
    expected: '.*\\.(q|k|v|o|gate|up|down)_proj',
  },
  {
    name: 'a large rank, alpha, dropout',
    config: { lora: { r: 64, lora_alpha: 128, lora_dropout: 0.1 } },
    path: ['lora', 'r'],
    expected: 64,
  },
  {
    name: 'a long max_length',
    config: { data: { train: 'data/train.jsonl', max_length: 4096 } },
    path: ['data', 'max_length'],
    expected: 4096,
  },
  {
    name: 'four GPUs, FSDP, a memory-size GPU',
    config: { hardware: { gpu: '24GiB', num_gpus: 4, distributed: 'fsdp' } },
    path: ['hardware', 'num_gpus'],
    expected: 4,
  },
  {
    name: 'full fine-tuning with weight decay',
    config: { method: 'full', training: { weight_decay: 0.01, learning_rate: 1e-5 } },
    path: ['lora'],
    expected: null,
  },
];

/** One config per value of every enum and boolean of the config schema, plus SPECIAL. */
export function optionConfigs(): OptionConfig[] {
  const configSchema = JSON.parse(readFileSync(join(REPO, 'schemas', 'finetune.schema.json'), 'utf8')) as Schema;
  const out: OptionConfig[] = [];
  for (const leaf of leaves(configSchema, [])) {
    for (const value of valuesOf(leaf.schema)) {
      const name = `${leaf.path.join('.')}=${JSON.stringify(value)}`;
      if (NOT_ALONE.has(name)) continue;
      const config = configWith(leaf.path, value, methodFor(leaf.path, value));
      out.push({ name, text: JSON.stringify(config, null, 1), read: at(leaf.path), expected: value });
    }
  }
  for (const special of SPECIAL) {
    const config = {
      model: 'Qwen/Qwen2.5-0.5B',
      method: 'lora',
      data: { train: 'data/train.jsonl' },
      ...special.config,
    };
    out.push({
      name: special.name,
      text: JSON.stringify(config, null, 1),
      read: at(special.path),
      expected: special.expected,
    });
  }
  return out;
}
