// Hub datasets in the TS-side inspection (issue 25): `hf://datasets/owner/name?split=…` is read from a local Hugging
// Face cache that the test writes as `huggingface-cli download --repo-type dataset` leaves it (refs/main, snapshots/
// <commit>/ with files linked into blobs/), with real Parquet written by pyarrow (the trainer's venv): the split's
// files as datasets picks them (shard names, folder names, the card's `configs:`, data_files, the subset), their rows
// read with hyparquet, the slice applied to the count, and a dataset not in the cache said with the command that
// fetches it, in the facts and in the estimate's assumptions. Nothing is downloaded.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DatasetInspector, inspectDataset, inspectHubDataset } from '../../server/src/core/data';
import { findCachedHubDataset, globMatch, parseSplit, slicedRows } from '../../server/src/core/data/hubCache';
import { analyzeConfig } from '../../server/src/core/analysis/analyze';
import { assumptionsOf } from '../../server/src/core/analysis/estimateReport';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { toTrainingPlan } from '../../server/src/core/plan/normalize';
import { checkRules } from '../../server/src/core/rules';
import { plantedSecrets, seeded } from './safety/generate';
import { REPO } from '../helpers/cli';

const VENV = join(REPO, '.venv-trainer/bin/python');
const PYTHON = process.env.LORA_LENS_TEST_PYTHON || (existsSync(VENV) ? VENV : 'python3');
const probe = spawnSync(PYTHON, ['-c', 'import pyarrow'], { encoding: 'utf8' });
const SKIP = probe.status === 0 ? false : `${PYTHON} lacks pyarrow (bash scripts/setup-trainer-venv.sh)`;
const COMMIT = '0123456789abcdef0123456789abcdef01234567';

let root: string;
let env: NodeJS.ProcessEnv;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'lora-lens-hubcache-'));
  env = { HF_HUB_CACHE: join(root, 'hub'), HOME: root };
});
after(() => rmSync(root, { recursive: true, force: true }));

const chatRow = (i: number) => ({
  messages: [
    { role: 'user', content: `What is the capital of country number ${i}?` },
    { role: 'assistant', content: `It is city number ${i}, the largest of its ${i % 7} provinces.` },
  ],
});

/** A repo snapshot in the cache: each file's bytes in blobs/, the snapshot's entry a symlink to it (as on Linux). */
function snapshot(id: string, files: Record<string, string | Buffer>, commit = COMMIT): string {
  const repo = join(root, 'hub', `datasets--${id.replace('/', '--')}`);
  mkdirSync(join(repo, 'refs'), { recursive: true });
  writeFileSync(join(repo, 'refs', 'main'), commit);
  const snap = join(repo, 'snapshots', commit);
  for (const [name, content] of Object.entries(files)) {
    const blob = join(repo, 'blobs', `${commit.slice(0, 8)}-${name.replace(/\//g, '_')}`);
    mkdirSync(dirname(blob), { recursive: true });
    writeFileSync(blob, content);
    mkdirSync(dirname(join(snap, name)), { recursive: true });
    symlinkSync(blob, join(snap, name));
  }
  return snap;
}

/** Parquet files written by pyarrow: `{path: rows}`; `compression` as pyarrow names it (snappy by default). */
function writeParquet(files: Record<string, unknown[]>, compression = 'snappy'): void {
  const script =
    'import json, sys\nimport pyarrow as pa, pyarrow.parquet as pq\n' +
    'for path, rows in json.loads(sys.argv[1]).items():\n' +
    '    pq.write_table(pa.Table.from_pylist(rows), path, compression=sys.argv[2], row_group_size=40)';
  const made = spawnSync(PYTHON, ['-c', script, JSON.stringify(files), compression], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
}

test(
  'a sharded Parquet dataset: the split picks its shards, rows are read from the first, counted in all',
  { skip: SKIP },
  async () => {
    const staging = join(root, 'staging');
    mkdirSync(staging, { recursive: true });
    const train0 = Array.from({ length: 100 }, (_, i) => chatRow(i));
    train0[57] = train0[3]!; // a planted duplicate
    writeParquet({
      [join(staging, 't0.parquet')]: train0,
      [join(staging, 't1.parquet')]: Array.from({ length: 30 }, (_, i) => chatRow(100 + i)),
      [join(staging, 'v.parquet')]: Array.from({ length: 12 }, (_, i) => chatRow(200 + i)),
    });
    const { readFileSync } = await import('node:fs');
    snapshot('someone/sharded', {
      'README.md': '# a card without configs\n',
      'data/train-00000-of-00002.parquet': readFileSync(join(staging, 't0.parquet')),
      'data/train-00001-of-00002.parquet': readFileSync(join(staging, 't1.parquet')),
      'data/validation-00000-of-00001.parquet': readFileSync(join(staging, 'v.parquet')),
    });
    const ref = 'hf://datasets/someone/sharded?split=train';
    const facts = await inspectHubDataset(ref, { format: 'chat' }, env);
    assert.equal(facts.path, ref);
    assert.equal(facts.exists, true);
    assert.equal(facts.kind, 'parquet');
    assert.deepEqual(facts.hub!.files, ['data/train-00000-of-00002.parquet', 'data/train-00001-of-00002.parquet']);
    assert.equal(facts.hub!.commit, COMMIT);
    assert.equal(facts.rows, 130);
    assert.equal(facts.scannedRows, 100);
    assert.equal(facts.mismatched.count, 0);
    assert.deepEqual(facts.duplicates.first, [{ index: 57 }]);
    assert.equal(facts.lengths!.count, 100);
    assert.ok(facts.lengths!.p50 > 10, JSON.stringify(facts.lengths));
    // Past the time bound the other shards are not opened: their rows are the first shard's per byte, said estimated.
    const hurried = await inspectHubDataset(ref, { format: 'chat', maxMs: 0 }, env);
    assert.equal(hurried.estimated, true);
    assert.equal(hurried.rowsExact, undefined);
    assert.ok(hurried.rows > 100, String(hurried.rows));
    const validation = await inspectHubDataset(
      'hf://datasets/someone/sharded?split=validation',
      { format: 'chat' },
      env,
    );
    assert.equal(validation.rows, 12);
    // datasets' slicing: the count is the slice's.
    assert.equal((await inspectHubDataset(`${ref}%5B%3A20%25%5D`, { format: 'chat' }, env)).rows, 26);
    const test_ = await inspectHubDataset('hf://datasets/someone/sharded?split=test', { format: 'chat' }, env);
    assert.equal(test_.exists, false);
    assert.match(test_.hub!.reason!, /has no \.jsonl\/\.json\/\.csv\/\.parquet file of split "test"/);
  },
);

test(
  'a local Parquet file is read row by row; a codec hyparquet lacks falls back to the footer count',
  { skip: SKIP },
  async () => {
    const snappy = join(root, 'local.parquet');
    const zstd = join(root, 'zstd.parquet');
    const rows = Array.from({ length: 90 }, (_, i) => ({
      prompt: `Q${i}: what is ${i} + ${i}?`,
      completion: `${2 * i}`,
    }));
    rows[10] = { prompt: 'Contact me at jane.doe@corp-mail.com', completion: '<b>ok</b>' };
    writeParquet({ [snappy]: rows });
    writeParquet({ [zstd]: rows }, 'zstd');
    const facts = await inspectDataset(snappy, { format: 'instruction' });
    assert.equal(facts.rows, 90);
    assert.equal(facts.scannedRows, 90);
    assert.equal(facts.estimated, false);
    assert.deepEqual(facts.html.first, [{ index: 10 }]);
    assert.equal(facts.note, undefined);
    // Bounded by time: the first 40-row group is read, the count stays exact, from the metadata.
    const bounded = await inspectDataset(snappy, { format: 'instruction', maxMs: 0 });
    assert.deepEqual([bounded.rows, bounded.scannedRows, bounded.estimated, bounded.rowsExact], [90, 40, true, true]);
    // A row group over the byte bound is not decoded (it would be whole): the metadata's count, and why.
    const big = await inspectDataset(snappy, { format: 'instruction', maxBytes: 100 });
    assert.equal(big.rows, 90);
    assert.match(
      big.note!,
      /rows are not inspected \(a row group is \d+ bytes compressed, over the 100 bytes read here\)/,
    );
    const fallback = await inspectDataset(zstd, { format: 'instruction' });
    assert.equal(fallback.rows, 90);
    if (fallback.scannedRows === 0) assert.match(fallback.note!, /rows are not inspected/);
    else assert.equal(fallback.scannedRows, 90); // a hyparquet that decodes zstd reads them
  },
);

test("split files by folder and file names, the card's configs, data_files and the subset", () => {
  const jsonl = (n: number, offset = 0) =>
    Array.from({ length: n }, (_, i) => JSON.stringify(chatRow(i + offset))).join('\n') + '\n';
  snapshot('someone/plain', { 'chats.jsonl': jsonl(5) });
  snapshot('someone/folders', { 'train/a.jsonl': jsonl(4), 'test/a.jsonl': jsonl(2, 50), 'notes.txt': 'x' });
  snapshot('someone/card', {
    'README.md':
      '---\nlicense: mit\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: "chats/part-*.jsonl"\n' +
      '- config_name: extra\n  data_files: "extra/*.jsonl"\n---\n# card\n',
    'chats/part-1.jsonl': jsonl(3),
    'chats/part-2.jsonl': jsonl(3, 10),
    'chats/other.jsonl': jsonl(9),
    'extra/x.jsonl': jsonl(7),
  });
  snapshot('someone/subsets', { 'en/train.jsonl': jsonl(2), 'fr/train.jsonl': jsonl(3) });
  const files = (ref: string) => {
    const found = findCachedHubDataset(ref, env);
    return found?.found ? found.files.map((f) => f.slice(f.indexOf(COMMIT) + COMMIT.length + 1)) : found?.reason;
  };
  assert.deepEqual(files('hf://datasets/someone/plain'), ['chats.jsonl']);
  assert.match(String(files('hf://datasets/someone/plain?split=test')), /no .* file of split "test"/);
  assert.deepEqual(files('hf://datasets/someone/folders?split=train'), ['train/a.jsonl']);
  assert.deepEqual(files('hf://datasets/someone/folders?split=test'), ['test/a.jsonl']);
  assert.deepEqual(files('hf://datasets/someone/card'), ['chats/part-1.jsonl', 'chats/part-2.jsonl']);
  assert.deepEqual(files('hf://datasets/someone/card?name=extra'), ['extra/x.jsonl']);
  assert.deepEqual(files('hf://datasets/someone/card?data_files=chats%2Fother.jsonl'), ['chats/other.jsonl']);
  assert.deepEqual(files('hf://datasets/someone/subsets?name=fr'), ['fr/train.jsonl']);
  // A folder linked back to the snapshot (hostile or broken cache) is walked once: its files are not counted again.
  const looped = snapshot('someone/looped', { 'train.jsonl': jsonl(2) });
  symlinkSync(looped, join(looped, 'again'));
  assert.equal((files('hf://datasets/someone/looped') as string[]).length, 1); // was 13: the snapshot and 12 levels
  assert.ok((files('hf://datasets/someone/looped') as string[]).includes('train.jsonl'));
  // A revision the cache does not hold is not replaced by main's snapshot.
  assert.match(String(files('hf://datasets/someone/plain?revision=v2')), /not in the Hugging Face cache/);
  assert.match(String(files(`hf://datasets/someone/plain?revision=${COMMIT}`)), /^chats/);
});

test('globs, split slices and their row counts as datasets has them', () => {
  assert.equal(globMatch('data/train-*', 'data/train-00000-of-00001.parquet'), true);
  assert.equal(globMatch('data/train-*', 'data/x/train-0.parquet'), false);
  assert.equal(globMatch('**/*.jsonl', 'a/b/c.jsonl'), true);
  assert.equal(globMatch('**/*.jsonl', 'c.jsonl'), true);
  assert.equal(globMatch('part-[0-9].json', 'part-7.json'), true);
  assert.deepEqual(parseSplit('train[:20%]'), { base: 'train', slice: { from: null, to: 20, percent: true } });
  assert.deepEqual(parseSplit('test'), { base: 'test', slice: null });
  assert.equal(slicedRows(130, parseSplit('train[:20%]').slice), 26);
  assert.equal(slicedRows(130, parseSplit('train[10:100]').slice), 90);
  assert.equal(slicedRows(130, parseSplit('train[-30:]').slice), 30);
  assert.equal(slicedRows(130, parseSplit('train[200:]').slice), 0);
});

test('not cached: the estimate appears and says what it assumed and how to fetch the dataset; a download is seen', async () => {
  const text = 'model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\ndata:\n  train: hf://datasets/someone/later\n';
  const inspector = new DatasetInspector((path, options) => inspectHubDataset(path, options, env), env);
  const analyze = () =>
    analyzeConfig({
      doc: parseConfigDocument(text),
      configPath: join(root, 'run.finetune.yaml'),
      environment: {
        platform: 'linux',
        env,
        fallbackGpu: null,
        datasetFacts: (path, options) => inspector.peek(path, options),
      },
    });
  const first = analyze();
  assert.equal(first.pendingDatasets.length, 1);
  await inspector.inspect(first.pendingDatasets[0]!.path, first.pendingDatasets[0]!.options);
  const absent = analyze();
  assert.ok(absent.estimate, 'the estimate is made without the data');
  assert.equal(absent.dataset!.exists, false);
  const said = assumptionsOf(absent).join('\n');
  assert.match(
    said,
    /training data someone\/later \(a Hub dataset\) was not read: it is not in the Hugging Face cache/,
  );
  assert.match(said, /rows assumed to be max_length/);
  assert.match(said, /Fetch it with `huggingface-cli download --repo-type dataset someone\/later`/);
  assert.equal(absent.pendingDatasets.length, 0, 'an absent dataset is not inspected again on every pass');
  // The download lands: the cached facts are stale, and the next inspection reads the rows.
  const shard = (from: number) =>
    Array.from({ length: 8 }, (_, i) => JSON.stringify(chatRow(from + i))).join('\n') + '\n';
  const snap = snapshot('someone/later', { 'data/train-00000-of-00002.jsonl': shard(0) });
  utimesSync(snap, new Date(), new Date(Date.now() + 1000));
  const reinspect = async () => {
    const stale = analyze();
    assert.equal(stale.pendingDatasets.length, 1);
    await inspector.inspect(stale.pendingDatasets[0]!.path, stale.pendingDatasets[0]!.options);
    return analyze();
  };
  const read = await reinspect();
  assert.equal(read.dataset!.rows, 8);
  assert.equal(read.dataset!.hub!.cached, true);
  assert.deepEqual(assumptionsOf(read), []);
  // A second shard lands in data/ (the snapshot's own folder unchanged): seen too.
  writeFileSync(join(snap, 'data', 'train-00001-of-00002.jsonl'), shard(8));
  utimesSync(join(snap, 'data'), new Date(), new Date(Date.now() + 2000));
  assert.equal((await reinspect()).dataset!.rows, 16);
});

test('a cached Hub dataset gets the data-safety findings, its rows placed by index for the preview', async () => {
  const random = seeded(5);
  const clean = (i: number) => JSON.stringify(chatRow(i));
  const secret = JSON.stringify({
    messages: [
      { role: 'user', content: 'Why does this fail?' },
      { role: 'assistant', content: plantedSecrets(random)['github-token']! },
    ],
  });
  // Line 4 holds the secret; the blank line 2 is no row, so the reader counts it as row 2.
  snapshot('someone/leaky', { 'data/train.jsonl': [clean(0), '', clean(1), secret, clean(2)].join('\n') + '\n' });
  const ref = 'hf://datasets/someone/leaky';
  const text = `model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\ndata:\n  train: ${ref}\n  max_length: 512\n`;
  const doc = parseConfigDocument(text);
  const plan = toTrainingPlan(doc, join(root, 'run.finetune.yaml'))!;
  const dataset = await inspectHubDataset(ref, { format: 'chat' }, env);
  assert.deepEqual(
    dataset.safety!.secrets.first.map((h) => ({ index: h.index, line: h.line })),
    [{ index: 2, line: undefined }],
  );
  const findings = checkRules({ doc, plan, configPath: join(root, 'run.finetune.yaml'), dataset, platform: 'linux' });
  const secrets = findings.find((d) => d.code === 'data-secrets');
  assert.ok(secrets, JSON.stringify(findings.map((d) => d.code)));
  assert.match(
    String(secrets.message),
    /^1 row of someone\/leaky \(data\/train\.jsonl\) holds a secret \(1 × GitHub token\): record 3, /,
  );
  assert.deepEqual((secrets.data as { open: unknown }).open, {
    file: ref,
    index: 2,
    field: 'messages[1].content',
    kind: 'github-token',
  });

  // A CSV file: the header is no row, a quoted field spans two lines, a blank line is no row.
  const token = plantedSecrets(seeded(5))['github-token']!;
  snapshot('someone/leakycsv', {
    'train.csv': `prompt,completion\n"What is 1+1?","2"\n"A question\nspanning lines","yes"\n\nWhy does this fail?,${token}\n`,
  });
  const csv = await inspectHubDataset('hf://datasets/someone/leakycsv', { format: 'instruction' }, env);
  assert.deepEqual(
    csv.safety!.secrets.first.map((h) => ({ index: h.index, line: h.line })),
    [{ index: 2, line: undefined }],
  );
});

// The editor's inspection and the trainer read a Hub dataset by two readers (TypeScript here, `datasets` in the
// trainer, which the language server cannot start within its bound): on the cache layouts written above, the split
// each one reads has the same number of rows. Runs after the tests that write those snapshots.
const hasDatasets = spawnSync(PYTHON, ['-c', 'import datasets'], { encoding: 'utf8' }).status === 0;
test(
  "the inspection's row count is the trainer's (datasets') on every cached layout",
  { skip: SKIP || (hasDatasets ? false : `${PYTHON} lacks datasets`) },
  async () => {
    const refs = [
      'hf://datasets/someone/sharded?split=train',
      'hf://datasets/someone/sharded?split=validation',
      'hf://datasets/someone/plain',
      'hf://datasets/someone/folders?split=train',
      'hf://datasets/someone/folders?split=test',
      'hf://datasets/someone/card',
      'hf://datasets/someone/card?name=extra',
      'hf://datasets/someone/card?data_files=chats%2Fother.jsonl',
    ];
    const script =
      'import json, sys\nfrom lora_lens_trainer.data.hub import read_hub_dataset\n' +
      'out = {}\nfor ref in json.loads(sys.argv[1]):\n' +
      '    try:\n        out[ref] = len(read_hub_dataset(ref))\n' +
      '    except Exception as error:\n        out[ref] = str(error)[:300]\nprint(json.dumps(out))';
    const read = spawnSync(PYTHON, ['-c', script, JSON.stringify(refs)], {
      encoding: 'utf8',
      env: {
        ...process.env,
        ...env,
        HF_HUB_OFFLINE: '1',
        HF_DATASETS_CACHE: join(root, 'datasets-cache'),
        PYTHONPATH: join(REPO, 'trainer'),
      },
    });
    assert.equal(read.status, 0, read.stderr);
    const trainer = JSON.parse(read.stdout.trim().split('\n').pop()!) as Record<string, number | string>;
    const editor: Record<string, number | string> = {};
    for (const ref of refs) {
      const facts = await inspectHubDataset(ref, { format: 'chat' }, env);
      editor[ref] = facts.exists ? facts.rows : String(facts.hub?.reason);
    }
    assert.ok(
      Object.values(trainer).every((rows) => typeof rows === 'number' && rows > 0),
      JSON.stringify(trainer),
    );
    assert.deepEqual(editor, trainer);
  },
);
