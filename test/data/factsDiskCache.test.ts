import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectDataset, type InspectOptions } from '../../server/src/core/data';
import { factsCacheDir, withFactsDiskCache } from '../../server/src/core/data/factsDiskCache';

const OPTIONS: InspectOptions = { format: 'chat' };

function chatRows(count: number, duplicateEvery = 0): string {
  const rows: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = duplicateEvery && i % duplicateEvery === 0 ? 0 : i;
    rows.push(
      JSON.stringify({
        messages: [
          { role: 'user', content: `question ${n} ${'x'.repeat(80)}` },
          { role: 'assistant', content: `answer ${n}` },
        ],
      }),
    );
  }
  return `${rows.join('\n')}\n`;
}

function counted() {
  const calls: string[] = [];
  const inspect = (path: string, options: InspectOptions) => {
    calls.push(path);
    return inspectDataset(path, options);
  };
  return { calls, inspect };
}

function fixture() {
  const root = mkdtempSync(join(tmpdir(), 'lora-lens-facts-cache-'));
  const data = join(root, 'train.jsonl');
  writeFileSync(data, chatRows(1000));
  return { root, data, dir: join(root, 'cache') };
}

test('an unchanged dataset is scanned once: the second read gives the same facts from disk', async () => {
  const { root, data, dir } = fixture();
  try {
    const { calls, inspect } = counted();
    const first = await withFactsDiskCache(inspect, { dir, stamp: 'build-1' })(data, OPTIONS);
    const second = await withFactsDiskCache(inspect, { dir, stamp: 'build-1' })(data, OPTIONS);
    assert.equal(calls.length, 1);
    assert.equal(readdirSync(dir).length, 1);
    assert.deepEqual(second, first);
    assert.equal(first.rows, 1000);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a changed file, other read options or another build scan again', async () => {
  const { root, data, dir } = fixture();
  try {
    const { calls, inspect } = counted();
    const cached = (stamp: string) => withFactsDiskCache(inspect, { dir, stamp });
    await cached('build-1')(data, OPTIONS);
    // Same size, other rows: every tenth row repeats row 0, and the mtime moves on.
    writeFileSync(data, chatRows(1000, 10).padEnd(chatRows(1000).length, ' '));
    utimesSync(data, new Date(), new Date(Date.now() + 5000));
    const changed = await cached('build-1')(data, OPTIONS);
    assert.equal(calls.length, 2);
    assert.ok(changed.duplicates.count > 0, 'the rescan sees the duplicated rows');
    await cached('build-1')(data, { ...OPTIONS, maxBytes: 1 << 20 });
    assert.equal(calls.length, 3);
    await cached('build-2')(data, OPTIONS);
    assert.equal(calls.length, 4);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a damaged entry is ignored and rewritten; an unwritable cache folder only costs the scan', async () => {
  const { root, data, dir } = fixture();
  try {
    const { calls, inspect } = counted();
    const cached = withFactsDiskCache(inspect, { dir, stamp: 'b' });
    await cached(data, OPTIONS);
    const [entry] = readdirSync(dir);
    writeFileSync(join(dir, entry!), '{"key": 1, "facts": [');
    const again = await cached(data, OPTIONS);
    assert.equal(calls.length, 2);
    assert.equal(again.rows, 1000);
    await cached(data, OPTIONS);
    assert.equal(calls.length, 2, 'the rewritten entry is read');
    const blocked = join(root, 'not-a-folder');
    writeFileSync(blocked, '');
    const facts = await withFactsDiskCache(inspect, { dir: join(blocked, 'x'), stamp: 'b' })(data, OPTIONS);
    assert.equal(facts.rows, 1000);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('small and missing files are never kept', async () => {
  const { root, dir } = fixture();
  try {
    const small = join(root, 'small.jsonl');
    writeFileSync(small, chatRows(3));
    const { calls, inspect } = counted();
    const cached = withFactsDiskCache(inspect, { dir, stamp: 'b' });
    await cached(small, OPTIONS);
    await cached(small, OPTIONS);
    const missing = await cached(join(root, 'absent.jsonl'), OPTIONS);
    assert.equal(missing.exists, false);
    assert.equal(calls.length, 3);
    assert.deepEqual(readdirSync(root).includes('cache'), false);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the cache folder: LORA_LENS_CACHE_DIR, off, else XDG_CACHE_HOME or ~/.cache', () => {
  assert.equal(factsCacheDir({ LORA_LENS_CACHE_DIR: '/c' }), join('/c', 'datasets'));
  assert.equal(factsCacheDir({ LORA_LENS_CACHE_DIR: 'off' }), null);
  assert.equal(factsCacheDir({ XDG_CACHE_HOME: '/x' }), join('/x', 'lora-lens', 'datasets'));
  assert.equal(factsCacheDir({ HOME: '/h' }), join('/h', '.cache', 'lora-lens', 'datasets'));
});
