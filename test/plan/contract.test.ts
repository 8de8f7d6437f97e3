// The plan contract across the two languages: plans the TypeScript normaliser builds (every example, every option of
// the config schema) validate against schemas/plan.schema.json and are read back, field for field, by the trainer's
// own reader in a real Python process; broken plans are refused by both sides, naming the same key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  asJsonText,
  planFixtures,
  planSchema,
  PLAN_FIXTURE_DIR,
  PLAN_SCHEMA_FILE,
} from '../../scripts/gen-plan-contract';
import { createRunFolder } from '../../server/src/runs/createRunFolder';
import { buildPlan } from '../../server/src/core/analysis/buildPlan';
import { planErrors } from '../../server/src/core/plan/contract';
import type { TrainingPlan } from '../../server/src/core/plan/types';
import { assertPythonReadsBack, optionConfigs, readWithPython, REPO, withTempDir } from './contractHelpers';

type Obj = Record<string, unknown>;

const keysOf = (problems: string[]) => [...new Set(problems.map((p) => p.slice(0, p.indexOf(':'))))].sort();

test('schemas/plan.schema.json and the trainer plan fixtures are what scripts/gen-plan-contract.ts writes', () => {
  const hint = 'run `npx tsx scripts/gen-plan-contract.ts` and commit what it writes';
  assert.equal(readFileSync(PLAN_SCHEMA_FILE, 'utf8'), asJsonText(planSchema()), hint);
  for (const [method, plan] of Object.entries(planFixtures())) {
    assert.equal(
      readFileSync(join(PLAN_FIXTURE_DIR, `${method}.plan.json`), 'utf8'),
      asJsonText(plan),
      `${method}: ${hint}`,
    );
  }
});

test('every example and every config option: a schema-valid plan that the Python reader reads back field for field', () => {
  const examples = readdirSync(join(REPO, 'examples'))
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .map((f) => join(REPO, 'examples', f));
  const cases: Array<{ name: string; plan: TrainingPlan }> = [];
  for (const path of examples) {
    const { plan, diagnostics } = buildPlan(readFileSync(path, 'utf8'), path);
    assert.deepEqual(
      diagnostics.filter((d) => d.severity === 1).map((d) => d.message),
      [],
      path,
    );
    assert.ok(plan, `${path}: no plan`);
    cases.push({ name: path, plan });
  }
  for (const option of optionConfigs()) {
    const { plan, diagnostics } = buildPlan(option.text, '/work/project/option.finetune.yaml');
    assert.deepEqual(
      diagnostics.map((d) => d.message),
      [],
      `${option.name}: the config is invalid, so it exercises nothing:\n${option.text}`,
    );
    assert.ok(plan, option.name);
    assert.deepEqual(option.read(plan), option.expected, `${option.name}: the plan does not carry the option`);
    cases.push({ name: option.name, plan });
  }
  assert.ok(cases.length > 60, `only ${cases.length} plans`);
  for (const { name, plan } of cases) assert.deepEqual(planErrors(plan), [], name);

  assertPythonReadsBack(cases);
});

const BROKEN: Array<{ name: string; key: string; mutate: (p: Obj & { [k: string]: any }) => void }> = [
  { name: 'a missing section', key: 'training', mutate: (p) => delete p.training },
  { name: 'a missing key', key: 'engine', mutate: (p) => delete p.engine },
  {
    name: 'an unknown top-level key',
    key: 'epochs',
    mutate: (p) => {
      p.epochs = 3;
    },
  },
  {
    name: 'an unknown nested key',
    key: 'output.merge_into',
    mutate: (p) => {
      p.output.merge_into = 'base';
    },
  },
  {
    name: 'a string for a number',
    key: 'training.learning_rate',
    mutate: (p) => {
      p.training.learning_rate = 'big';
    },
  },
  {
    name: 'a zero learning rate (exclusiveMinimum)',
    key: 'training.learning_rate',
    mutate: (p) => {
      p.training.learning_rate = 0;
    },
  },
  {
    name: "no method (one error, not the method rules' contradictions)",
    key: 'method',
    mutate: (p) => delete p.method,
  },
  {
    name: 'an unknown method',
    key: 'method',
    mutate: (p) => {
      p.method = 'prefix';
    },
  },
  {
    name: 'a fractional integer',
    key: 'data.max_length',
    mutate: (p) => {
      p.data.max_length = 1.5;
    },
  },
  {
    name: 'a one-token max_length (minimum 2)',
    key: 'data.max_length',
    mutate: (p) => {
      p.data.max_length = 1;
    },
  },
  {
    name: '1 for a boolean',
    key: 'data.packing',
    mutate: (p) => {
      p.data.packing = 1;
    },
  },
  {
    name: 'a relative training path (pattern)',
    key: 'data.train',
    mutate: (p) => {
      p.data.train = 'relative/train.jsonl';
    },
  },
  {
    name: 'LoRA without its section',
    key: 'lora',
    mutate: (p) => {
      p.lora = null;
    },
  },
  {
    name: 'LoRA with a quantization section',
    key: 'quantization',
    mutate: (p) => {
      p.quantization = {
        load_in_4bit: true,
        bnb_4bit_quant_type: 'nf4',
        bnb_4bit_use_double_quant: true,
        bnb_4bit_compute_dtype: 'bfloat16',
        prepare_for_kbit_training: true,
      };
    },
  },
  {
    name: 'a zero batch (minimum)',
    key: 'training.per_device_train_batch_size',
    mutate: (p) => {
      p.training.per_device_train_batch_size = 0;
    },
  },
  {
    name: 'dropout of 1 (exclusiveMaximum)',
    key: 'lora.lora_dropout',
    mutate: (p) => {
      p.lora.lora_dropout = 1;
    },
  },
  {
    name: 'a rank past the maximum',
    key: 'lora.r',
    mutate: (p) => {
      p.lora.r = 5000;
    },
  },
  {
    name: 'target_modules a number (anyOf)',
    key: 'lora.target_modules',
    mutate: (p) => {
      p.lora.target_modules = 3;
    },
  },
  {
    name: 'target_modules an empty list',
    key: 'lora.target_modules',
    mutate: (p) => {
      p.lora.target_modules = [];
    },
  },
  {
    name: 'target_modules with an empty name',
    key: 'lora.target_modules',
    mutate: (p) => {
      p.lora.target_modules = ['q_proj', ''];
    },
  },
  {
    name: 'an unknown merge base',
    key: 'output.merge_base',
    mutate: (p) => {
      p.output.merge_base = 'nf4';
    },
  },
  {
    name: 'plan version 2',
    key: 'version',
    mutate: (p) => {
      p.version = 2;
    },
  },
  {
    name: 'an unknown distributed strategy',
    key: 'hardware.distributed',
    mutate: (p) => {
      p.hardware.distributed = 'horovod';
    },
  },
  {
    name: 'a null where no null is allowed',
    key: 'model.attn_implementation',
    mutate: (p) => {
      p.model.attn_implementation = null;
    },
  },
];

test('broken plans: TypeScript and the Python reader refuse each, naming the same one key', () => {
  const base = planFixtures().lora!;
  withTempDir((dir) => {
    const files = BROKEN.map((c, i) => {
      const plan = structuredClone(base) as unknown as Obj;
      c.mutate(plan as never);
      assert.deepEqual(keysOf(planErrors(plan)), [c.key], `${c.name}: TypeScript: ${planErrors(plan).join('; ')}`);
      const file = join(dir, `${i}.plan.json`);
      writeFileSync(file, JSON.stringify(plan));
      return file;
    });
    const read = readWithPython(files);
    files.forEach((file, i) => {
      const row = read.get(file)!;
      assert.equal(row.ok, false, `${BROKEN[i]!.name}: the Python reader accepted it`);
      assert.deepEqual(row.keys, [BROKEN[i]!.key], `${BROKEN[i]!.name}: Python: ${row.message}`);
      assert.match(row.message!, new RegExp(`^  ${BROKEN[i]!.key.replace(/[.[\]]/g, '\\$&')}: `, 'm'));
    });
  });
});

test('createRunFolder refuses a plan that breaks the contract, names the key, and leaves no folder behind', () => {
  withTempDir((dir) => {
    const plan = structuredClone(planFixtures().lora!) as TrainingPlan & { training: { learning_rate: unknown } };
    plan.training.learning_rate = -1;
    const runDir = join(dir, 'run-1');
    assert.throws(() => createRunFolder(runDir, plan), /training\.learning_rate: must be > 0/);
    assert.equal(existsSync(runDir), false);
    const good = createRunFolder(join(dir, 'run-2'), planFixtures().lora!);
    assert.deepEqual(JSON.parse(readFileSync(good.planPath, 'utf8')), planFixtures().lora);
  });
});

test('a config value past a plan bound is a config diagnostic, and its plan takes the default (max_length 1)', () => {
  const { plan, diagnostics } = buildPlan(
    'model: x\nmethod: lora\ndata: {train: a.jsonl, max_length: 1}\n',
    '/work/project/c.finetune.yaml',
  );
  assert.equal(diagnostics.length, 1);
  assert.deepEqual(diagnostics[0]!.range.start, { line: 2, character: 35 });
  assert.equal(plan?.data.max_length, 1024);
  assert.deepEqual(planErrors(plan), []);
});
