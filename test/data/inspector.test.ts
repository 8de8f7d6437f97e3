import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DatasetInspector,
  inspectDataset,
  tokenizerPathFor,
  type DatasetFacts,
  type InspectOptions,
} from '../../server/src/core/data';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lora-lens-inspector-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const options: InspectOptions = { format: 'text' };

test('peek is empty until a scan finished; concurrent inspects share one scan; listeners hear of it', async () => {
  const path = join(dir, 'a.jsonl');
  writeFileSync(path, '{"text": "a"}\n{"text": "b"}\n');
  let scans = 0;
  const inspector = new DatasetInspector(async (p, o) => {
    scans++;
    return inspectDataset(p, o);
  });
  const heard: DatasetFacts[] = [];
  const subscription = inspector.onDidInspect((facts) => heard.push(facts));
  assert.equal(inspector.peek(path, options), undefined);
  const [first, second] = await Promise.all([inspector.inspect(path, options), inspector.inspect(path, options)]);
  assert.equal(scans, 1);
  assert.equal(first, second);
  assert.equal(first.rows, 2);
  assert.equal(inspector.peek(path, options), first);
  assert.equal(heard.length, 1);
  await inspector.inspect(path, options);
  assert.equal(scans, 1, 'an unchanged file is not scanned again');
  subscription.dispose();

  writeFileSync(path, '{"text": "a"}\n{"text": "b"}\n{"text": "c"}\n');
  utimesSync(path, new Date(), new Date(Date.now() + 5000));
  assert.equal(inspector.peek(path, options), undefined, 'a changed file invalidates the cache');
  assert.equal((await inspector.inspect(path, options)).rows, 3);
  assert.equal(scans, 2);
  assert.equal(heard.length, 1, 'a disposed listener hears nothing');
  assert.equal(inspector.peek(path, { format: 'chat' }), undefined, 'another format is another entry');
});

test('a missing file is remembered as missing until it appears', async () => {
  const path = join(dir, 'later.jsonl');
  const inspector = new DatasetInspector();
  assert.equal((await inspector.inspect(path, options)).exists, false);
  assert.equal(inspector.peek(path, options)?.exists, false);
  writeFileSync(path, '{"text": "x"}\n');
  assert.equal(inspector.peek(path, options), undefined);
  assert.equal((await inspector.inspect(path, options)).rows, 1);
});

test('a scanner that rejects does not wedge the file: the next inspect scans again', async () => {
  let calls = 0;
  const inspector = new DatasetInspector(async () => {
    calls++;
    throw new Error('disk gone');
  });
  await assert.rejects(inspector.inspect(join(dir, 'x.jsonl'), options), /disk gone/);
  await assert.rejects(inspector.inspect(join(dir, 'x.jsonl'), options), /disk gone/);
  assert.equal(calls, 2);
});

test('tokenizerPathFor: the tokenizer.json beside a resolved config.json, only when it exists', async () => {
  const model = join(dir, 'model');
  mkdirSync(model, { recursive: true });
  const resolution = {
    ok: true as const,
    spec: {} as never,
    source: 'local' as const,
    configPath: join(model, 'config.json'),
  };
  assert.equal(tokenizerPathFor(resolution), null);
  writeFileSync(join(model, 'tokenizer.json'), '{}');
  assert.equal(tokenizerPathFor(resolution), join(model, 'tokenizer.json'));
  assert.equal(tokenizerPathFor({ ok: false, message: 'unknown' }), null);
  assert.equal(tokenizerPathFor({ ...resolution, configPath: null }), null);
});
