/**
 * Hostile `hf://datasets/…` references and Hugging Face caches, through the lookup the dataset inspection, the
 * inspector's stamp and the dataset rule use (findCachedHubDataset, hubCacheStamp, hubDatasetRefProblem): data_files
 * patterns that make a backtracking RegExp exponential, symlinked folders fanning back into the snapshot, a snapshots
 * folder that is a file, a dangling snapshot link, refs naming `..`, revisions and ids climbing out of the cache, a
 * 10 MB query. Hangs are bounded by each test's timeout; times are printed, not asserted.
 */
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { findCachedHubDataset, globMatch, hubCacheStamp } from '../../server/src/core/data/hubCache';
import { inspectHubDataset } from '../../server/src/core/data/hubInspect';
import { hubDatasetRefProblem } from '../../server/src/core/dialects/normalize/datasetRef';

const cache = mkdtempSync(join(tmpdir(), 'adversarial-hub-'));
after(() => rmSync(cache, { recursive: true, force: true }));
const env = { HF_HUB_CACHE: cache };

/** A repo folder with one snapshot `abc` (and refs/main naming `main` when given); returns the snapshot. */
function repo(id: string, main?: string): string {
  const dir = join(cache, `datasets--${id.replace('/', '--')}`);
  const snapshot = join(dir, 'snapshots', 'abc');
  mkdirSync(snapshot, { recursive: true });
  if (main !== undefined) {
    mkdirSync(join(dir, 'refs'), { recursive: true });
    writeFileSync(join(dir, 'refs', 'main'), main);
  }
  return snapshot;
}

function timed<T>(label: string, run: () => T): T {
  const started = Date.now();
  const result = run();
  console.log(`${label}: ${Date.now() - started} ms`);
  return result;
}

test(
  'data_files patterns that backtrack exponentially as a RegExp are matched in linear time',
  { timeout: 20_000 },
  () => {
    // As a RegExp: 12 `*a` before `b` ran past a minute; 8 `**` before `x` took 14 s.
    assert.equal(
      timed('12 x *a', () => globMatch(`${'*a'.repeat(12)}b`, 'a'.repeat(40))),
      false,
    );
    assert.equal(
      timed('12 x **', () => globMatch(`${'**'.repeat(12)}x`, `data/${'a'.repeat(40)}`)),
      false,
    );
    assert.equal(globMatch(`${'*a'.repeat(12)}b`, `${'a'.repeat(12)}b`), true);
    // The glob's meaning is kept: classes, negated classes, `**/`.
    assert.equal(globMatch('part-[!0-9].json', 'part-x.json'), true);
    assert.equal(globMatch('part-[!0-9].json', 'part-7.json'), false);
    assert.equal(globMatch('**/train-*.parquet', 'a/b/train-0.parquet'), true);
    const snapshot = repo('evil/glob');
    writeFileSync(join(snapshot, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.jsonl'), '{"text":"a"}\n');
    const ref = `hf://datasets/evil/glob?data_files=${'*a'.repeat(14)}b`;
    const lookup = timed('hostile data_files lookup', () => findCachedHubDataset(ref, env));
    assert.equal(lookup?.found, false);
  },
);

test('folders linking back into the snapshot are walked once', { timeout: 20_000 }, () => {
  // Three links to their own folder walked 3^12 folders (10 s); eight would never end.
  const snapshot = repo('evil/fan');
  mkdirSync(join(snapshot, 'data'));
  writeFileSync(join(snapshot, 'data', 'train.jsonl'), '{"text":"a"}\n');
  for (let i = 0; i < 8; i++) symlinkSync('.', join(snapshot, 'data', `loop${i}`));
  const lookup = timed('fan-out walk', () => findCachedHubDataset('hf://datasets/evil/fan', env));
  assert.ok(lookup?.found);
  assert.deepEqual(lookup.files, [join(snapshot, 'data', 'train.jsonl')]);
});

test('a snapshots folder that is a file, a snapshot that is a file, a dangling link: said, never thrown', () => {
  const broken = join(cache, 'datasets--evil--file');
  mkdirSync(broken);
  writeFileSync(join(broken, 'snapshots'), 'not a folder');
  const asFile = findCachedHubDataset('hf://datasets/evil/file', env);
  assert.equal(asFile?.found, false);
  assert.match(asFile.reason, /could not be read \(ENOTDIR/);
  assert.match(hubCacheStamp('hf://datasets/evil/file', env), /^unreadable:/);

  const snapFile = join(cache, 'datasets--evil--snapfile');
  mkdirSync(join(snapFile, 'snapshots'), { recursive: true });
  mkdirSync(join(snapFile, 'refs'));
  writeFileSync(join(snapFile, 'snapshots', 'abc'), 'a file where the snapshot folder should be');
  writeFileSync(join(snapFile, 'refs', 'main'), 'abc');
  const snapshotFile = findCachedHubDataset('hf://datasets/evil/snapfile', env);
  assert.equal(snapshotFile?.found, false);
  assert.match(snapshotFile.reason, /cached snapshot could not be read \(ENOTDIR/);

  const dangling = join(cache, 'datasets--evil--dangling', 'snapshots');
  mkdirSync(dangling, { recursive: true });
  symlinkSync(join(cache, 'nowhere'), join(dangling, 'gone'));
  const gone = findCachedHubDataset('hf://datasets/evil/dangling', env);
  assert.equal(gone?.found, false);
  assert.match(gone.reason, /not in the Hugging Face cache/);
});

test('refs and revisions naming `..` do not leave the snapshots folder', () => {
  const snapshot = repo('evil/dots', '..');
  writeFileSync(join(snapshot, 'train.jsonl'), '{"text":"a"}\n');
  // refs/main = `..` made the repo folder itself the snapshot; now it names no snapshot, so the dataset is not cached
  // (as a refs/main naming a snapshot the cache lacks: the trainer's snapshot_download refuses both).
  const lookup = findCachedHubDataset('hf://datasets/evil/dots', env);
  assert.equal(lookup?.found, false);
  assert.match(lookup.reason, /not in the Hugging Face cache/);
  writeFileSync(join(cache, 'datasets--evil--dots', 'refs', 'main'), 'f'.repeat(40));
  assert.equal(findCachedHubDataset('hf://datasets/evil/dots', env)?.found, false);
  // Without refs/main, the newest snapshot is read.
  rmSync(join(cache, 'datasets--evil--dots', 'refs'), { recursive: true });
  assert.equal((findCachedHubDataset('hf://datasets/evil/dots', env) as { snapshot?: string }).snapshot, snapshot);
  // A revision is a file under refs/: one climbing out of the cache is not read, and not replaced by another one.
  writeFileSync(join(cache, 'outside'), 'abc');
  const climbing = findCachedHubDataset('hf://datasets/evil/dots?revision=../../outside', env);
  assert.equal(climbing?.found, false);
  // An id climbing out is not a Hub id: the dataset rule says so; the lookup stays inside the cache.
  assert.match(
    hubDatasetRefProblem('hf://datasets/../../etc')!,
    /names no Hub dataset: write hf:\/\/datasets\/<owner>\/<name>/,
  );
  assert.equal(findCachedHubDataset('hf://datasets/../../etc', env)?.found, false);
});

test('a 10 MB query is answered in bounded time', { timeout: 20_000 }, () => {
  const ref = `hf://datasets/o/n?split=${'x'.repeat(10 * 1024 * 1024)}&bogus=1`;
  const problem = timed('10 MB reference problem', () => hubDatasetRefProblem(ref));
  assert.match(problem ?? '', /unknown option "bogus"/);
  assert.ok(problem!.length < 500, `the message quotes the reference whole: ${problem!.length} characters`);
  assert.equal(timed('10 MB reference lookup', () => findCachedHubDataset(ref, env))?.found, false);
});

test(
  'a cached JSON-lines file with a secret, then a 1.2 GB line without end: placed by row, the process alive',
  { timeout: 60_000 },
  async () => {
    // Placing the hit by row index read the file on past the inspection's bytes: readline threw 'Invalid string
    // length' on the second line, out of the process.
    const snapshot = repo('evil/longline');
    const fd = openSync(join(snapshot, 'train.jsonl'), 'w');
    try {
      writeSync(fd, Buffer.from('{"text": "my key AKIAIOSFODNN7EXAMPLF and more"}\n'));
      writeSync(fd, Buffer.from('x'), 0, 1, 1200 * 1024 * 1024 - 1); // sparse: NULs, no line end
    } finally {
      closeSync(fd);
    }
    const started = Date.now();
    const facts = await inspectHubDataset('hf://datasets/evil/longline', { format: 'text' }, env);
    console.log(`1.2 GB line: ${Date.now() - started} ms`);
    assert.deepEqual(
      facts.safety?.secrets.first.map((hit) => hit.index),
      [0],
    );
  },
);
