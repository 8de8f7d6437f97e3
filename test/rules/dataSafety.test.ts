import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Diagnostic } from 'vscode-languageserver-types';
import { inspectDataset } from '../../server/src/core/data';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { toTrainingPlan } from '../../server/src/core/plan/normalize';
import { checkRules, type RuleSeverity } from '../../server/src/core/rules';
import { scanScope } from '../../server/src/core/rules/dataSafetyFindings';
import { facts } from './helpers';
import { PLANTED_INJECTION, plantedPersonalData, plantedSecrets, seeded } from '../data/safety/generate';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lora-lens-data-safety-'));
  mkdirSync(join(dir, 'data'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const SAFETY_RULES = ['data-injection', 'data-secrets', 'data-personal', 'data-imbalance'];
const chat = (user: string, assistant: string) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: user },
      { role: 'assistant', content: assistant },
    ],
  });
const config = (train: string, format = 'chat', before = '') =>
  `model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\ndata:\n${before}  train: ${train}\n  format: ${format}\n  max_length: 512\n`;

/** Writes the data file and the config, inspects the file for real and runs every rule. */
async function check(
  name: string,
  lines: string[],
  options: { format?: string; before?: string; overrides?: Record<string, RuleSeverity> } = {},
): Promise<Diagnostic[]> {
  writeFileSync(join(dir, 'data', name), `${lines.join('\n')}\n`);
  const doc = parseConfigDocument(config(`data/${name}`, options.format, options.before));
  const plan = toTrainingPlan(doc, join(dir, 'run.finetune.yaml'))!;
  const dataset = await inspectDataset(plan.data.train, { format: plan.data.format });
  return checkRules({
    doc,
    plan,
    configPath: join(dir, 'run.finetune.yaml'),
    dataset,
    platform: 'linux',
    ...(options.overrides ? { severityOverrides: options.overrides } : {}),
  }).filter((d) => SAFETY_RULES.includes(String(d.code)));
}

function plantedFile(): string[] {
  const random = seeded(5);
  const clean = (i: number) => chat(`What is ${i} + ${i}?`, `${2 * i}.`);
  return [
    clean(1),
    chat(PLANTED_INJECTION['ignore-instructions']!, 'I cannot do that.'),
    clean(3),
    chat('Why does this fail?', plantedSecrets(random)['github-token']!),
    chat('And this?', plantedSecrets(random)['aws-access-key-id']!),
    clean(6),
    chat(plantedPersonalData(random)['email']!, 'Noted.'),
    clean(8),
  ];
}

test('injection, secrets and personal data: one finding each on data.train, naming line, field and counts, the secret redacted', async () => {
  const diagnostics = await check('planted.jsonl', plantedFile());
  assert.deepEqual(
    diagnostics.map((d) => d.code),
    ['data-injection', 'data-secrets', 'data-personal'],
  );
  for (const d of diagnostics) {
    assert.equal(d.range.start.line, 3, 'on the data.train line');
    assert.equal(d.severity, 2);
    assert.deepEqual((d.data as { fixes: unknown[] }).fixes, [], 'no fix until the preview panel exists');
  }
  const [injection, secrets, personal] = diagnostics.map((d) => String(d.message));
  assert.match(
    injection!,
    /^1 row of planted\.jsonl holds a prompt-injection pattern \(1 × "ignore previous instructions"\): line 2, messages\[0\]\.content: "ignore previous instructions" \(Ignore all previous instructions\)\. /,
  );
  assert.match(
    secrets!,
    /^2 rows of planted\.jsonl hold secrets \(1 × GitHub token, 1 × AWS access key id\): line 4, messages\[1\]\.content: GitHub token \(ghp_\w\w…\(40 chars\)\); line 5, messages\[1\]\.content: AWS access key id \(AKIA\w\w…\(20 chars\)\)\. .*revoke/,
  );
  assert.match(
    personal!,
    /^1 row of planted\.jsonl holds personal data \(1 × e-mail address\): line 7, messages\[0\]\.content: e-mail address \(m…@gmail\.com\)\./,
  );
  const token = /ghp_\w+/.exec(plantedFile()[3]!)![0];
  assert.ok(!diagnostics.some((d) => String(d.message).includes(token.slice(6))), 'the token is never in a message');
  const data = diagnostics[1]!.data as {
    file: string;
    count: number;
    rows: Array<{ file: string; line: number; field: string; kind: string }>;
    open: unknown;
  };
  assert.equal(data.count, 2);
  assert.deepEqual(
    data.rows.map((r) => [r.file, r.line, r.field, r.kind]),
    [
      [join(dir, 'data', 'planted.jsonl'), 4, 'messages[1].content', 'github-token'],
      [join(dir, 'data', 'planted.jsonl'), 5, 'messages[1].content', 'aws-access-key-id'],
    ],
  );
  assert.deepEqual(data.open, data.rows[0]);
});

test("the severity is the user's to change, and the suppression comment above data.train silences a rule", async () => {
  const overridden = await check('planted.jsonl', plantedFile(), {
    overrides: { 'data-secrets': 'error', 'data-personal': 'off' },
  });
  assert.deepEqual(
    overridden.map((d) => [d.code, d.severity]),
    [
      ['data-injection', 2],
      ['data-secrets', 1],
    ],
  );
  const suppressed = await check('planted.jsonl', plantedFile(), {
    before: '  # lora-lens-disable-next-line data-personal, data-injection -- reviewed\n',
  });
  assert.deepEqual(
    suppressed.map((d) => d.code),
    ['data-secrets'],
  );
});

test('a clean file gets none of the data-safety findings; a JSON array names records', async () => {
  assert.deepEqual(
    await check(
      'clean.jsonl',
      Array.from({ length: 60 }, (_, i) =>
        chat(`Question ${i}: what is ${i} squared?`, `It is ${i * i}, since ${i} × ${i} = ${i * i}.`),
      ),
    ),
    [],
  );
  writeFileSync(
    join(dir, 'data', 'array.json'),
    JSON.stringify([JSON.parse(chat('hi', 'hello')), JSON.parse(chat(PLANTED_INJECTION['role-override']!, 'No.'))]),
  );
  const doc = parseConfigDocument(config('data/array.json'));
  const plan = toTrainingPlan(doc, join(dir, 'run.finetune.yaml'))!;
  const dataset = await inspectDataset(plan.data.train, { format: 'chat' });
  const injection = checkRules({ doc, plan, configPath: null, dataset, platform: 'linux' }).find(
    (d) => d.code === 'data-injection',
  )!;
  assert.match(String(injection.message), /: record 2, messages\[0\]\.content: role-play override/);
});

test('data-imbalance: a dominant label of a classification set, info above 60%, warning above 80%; balanced or free text silent', async () => {
  const rows = (shares: Record<string, number>) =>
    Object.entries(shares).flatMap(([label, n]) =>
      Array.from({ length: n }, (_, i) =>
        JSON.stringify({ prompt: `Review ${label} ${i}: how was it?`, completion: label }),
      ),
    );
  const seventy = await check('seventy.jsonl', rows({ positive: 70, negative: 20, neutral: 10 }), {
    format: 'instruction',
  });
  assert.deepEqual(
    seventy.map((d) => [d.code, d.severity]),
    [['data-imbalance', 3]],
  );
  assert.match(
    String(seventy[0]!.message),
    /^The answers of seventy\.jsonl look like class labels \(completion: "positive" 70%, "negative" 20%, "neutral" 10%\), and "positive" is 70% of 100 rows \(first at line 1, line 2, line 3, line 4, line 5\): always answering it is right 70% of the time/,
  );
  assert.deepEqual((seventy[0]!.data as { labels: unknown }).labels, [
    { label: 'positive', count: 70 },
    { label: 'negative', count: 20 },
    { label: 'neutral', count: 10 },
  ]);
  const ninety = await check('ninety.jsonl', rows({ spam: 90, ham: 10 }), { format: 'instruction' });
  assert.deepEqual(
    ninety.map((d) => [d.code, d.severity]),
    [['data-imbalance', 2]],
  );
  assert.deepEqual(
    await check('even.jsonl', rows({ positive: 60, negative: 40 }), { format: 'instruction' }),
    [],
    '60% is not over 60%',
  );
  assert.deepEqual(
    await check(
      'prose.jsonl',
      Array.from({ length: 100 }, (_, i) =>
        JSON.stringify({
          prompt: `Q${i}`,
          completion: i < 80 ? 'Yes, that is right.' : `A longer answer number ${i} that differs.`,
        }),
      ),
      { format: 'instruction' },
    ),
    [],
  );
});

test('a scan cut short says so: the rows read, or the rows the safety scanners reached before the deadline', () => {
  const bounded = facts('/d/train.jsonl', { estimated: true, scannedRows: 12_000, rows: 50_000 });
  assert.equal(
    scanScope({
      ...bounded,
      safety: {
        scannedRows: 12_000,
        injection: { rows: 0, kinds: {}, first: [] },
        secrets: { rows: 0, kinds: {}, first: [] },
        personal: { rows: 0, kinds: {}, first: [] },
        labels: null,
      },
    }),
    ' in the first 12,000 rows read',
  );
  const safetyCut = {
    ...facts('/d/train.jsonl'),
    safety: {
      scannedRows: 900,
      injection: { rows: 0, kinds: {}, first: [] },
      secrets: { rows: 0, kinds: {}, first: [] },
      personal: { rows: 0, kinds: {}, first: [] },
      labels: null,
    },
  };
  assert.match(scanScope(safetyCut), /in the first 900 rows scanned for this/);
  assert.equal(scanScope(facts('/d/train.jsonl')), '');
});
