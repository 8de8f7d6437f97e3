// The model download before a run (server/src/runs/modelDownload.ts, trainer/lora_lens_trainer/model_fetch.py):
// with the Hub allowed the trainer gets permission to fetch; offline, a model not on disk is refused before anything
// starts, naming `hf download`; the progress line the CLI draws from `download` events and the panel's state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { toTrainingPlan } from '../../server/src/core/plan/normalize';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { formatDownload, isRefusal, planLaunch, type DownloadEvent, type LaunchInput } from '../../server/src/runs';
import { cachedModelComplete, MODEL_DOWNLOAD_ENV, offlineModelProblem } from '../../server/src/runs/modelDownload';
import { Reporter } from '../../server/src/cli/runReporter';
import { applyEvent, reduceEvents, runHeader } from '../../extension/src/runs/series';
import { REPO, tempDir } from '../run/helpers';

const MODEL = 'Qwen/Qwen2.5-7B-Instruct';
const COMMIT = 'a'.repeat(40);

/** A Hub cache (HF_HOME) holding the model's snapshot with the given files, refs/main pointing at it. */
function hubCache(files: Record<string, string>): NodeJS.ProcessEnv {
  const home = tempDir('lora-lens-hf-home-');
  const repo = join(home, 'hub', `models--${MODEL.replace('/', '--')}`);
  mkdirSync(join(repo, 'refs'), { recursive: true });
  writeFileSync(join(repo, 'refs', 'main'), COMMIT);
  mkdirSync(join(repo, 'snapshots', COMMIT), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(repo, 'snapshots', COMMIT, name), text);
  return { HF_HOME: home, PATH: '/usr/bin' };
}

const INDEX = JSON.stringify({
  weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' },
});

test('a cached model counts as on disk only with its config and every weight file its index names', () => {
  assert.equal(cachedModelComplete(MODEL, null, hubCache({ 'config.json': '{}', 'model.safetensors': 'w' })), true);
  assert.equal(
    cachedModelComplete(MODEL, null, hubCache({ 'config.json': '{}' })),
    false,
    "the editor's Hub lookup leaves a config alone",
  );
  assert.equal(
    cachedModelComplete(
      MODEL,
      null,
      hubCache({ 'config.json': '{}', 'model.safetensors.index.json': INDEX, 'model-00001-of-00002.safetensors': 'w' }),
    ),
    false,
  );
  assert.equal(
    cachedModelComplete(
      MODEL,
      null,
      hubCache({
        'config.json': '{}',
        'model.safetensors.index.json': INDEX,
        'model-00001-of-00002.safetensors': 'w',
        'model-00002-of-00002.safetensors': 'w',
      }),
    ),
    true,
  );
  assert.equal(
    cachedModelComplete(MODEL, 'v2', hubCache({ 'config.json': '{}', 'model.safetensors': 'w' })),
    false,
    'another revision',
  );
});

test('offline, a Hub model not on disk is a problem naming the download command; allowed, on disk or a path, none', () => {
  const ref = { name_or_path: MODEL, revision: null };
  const empty = hubCache({ 'config.json': '{}' });
  const problem = offlineModelProblem(ref, false, empty, '/');
  assert.ok(problem?.includes(`\`hf download ${MODEL}\``), problem ?? 'no problem');
  assert.match(problem!, /--offline/);
  assert.equal(
    offlineModelProblem(ref, undefined, { ...empty, HF_HUB_OFFLINE: '1' }, '/'),
    null,
    'the trainer names the command itself',
  );
  assert.equal(offlineModelProblem(ref, true, empty, '/'), null);
  assert.equal(offlineModelProblem(ref, false, hubCache({ 'config.json': '{}', 'model.safetensors': 'w' }), '/'), null);
  assert.equal(offlineModelProblem({ name_or_path: '/models/missing', revision: null }, false, empty, '/'), null);
});

function planned(hub: boolean | undefined, env: NodeJS.ProcessEnv) {
  const dir = tempDir('lora-lens-download-');
  const config = join(dir, 'q.finetune.yaml');
  const example = readFileSync(join(REPO, 'examples', 'qwen2.5-7b-qlora.finetune.yaml'), 'utf8');
  writeFileSync(config, example.replace(/^output:\n( {2}.*\n)*/m, `output:\n  dir: ${join(dir, 'out')}\n`));
  const plan = toTrainingPlan(parseConfigDocument(readFileSync(config, 'utf8')), config)!;
  assert.equal(plan.model.name_or_path, MODEL);
  const input: LaunchInput = {
    target: { kind: 'new', plan, configPath: config, tool: null, runDir: null },
    python: '/venv/bin/python',
    cwd: dir,
    trainerRoot: '/ext/trainer',
    now: new Date(),
    env,
    hub,
  };
  return planLaunch(input);
}

test('planLaunch: the Hub allowed lets the trainer download (still offline otherwise); --offline refuses a model not on disk', () => {
  const env = hubCache({ 'config.json': '{}' });
  const allowed = planned(undefined, env);
  assert.ok(!isRefusal(allowed) && allowed.process.kind === 'trainer');
  assert.equal(allowed.process.env[MODEL_DOWNLOAD_ENV], '1');
  assert.equal(allowed.process.env.HF_HUB_OFFLINE, '1');
  const envOffline = planned(undefined, { ...env, HF_HUB_OFFLINE: '1' });
  assert.ok(
    !isRefusal(envOffline) &&
      envOffline.process.kind === 'trainer' &&
      envOffline.process.env[MODEL_DOWNLOAD_ENV] === undefined,
    'HF_HUB_OFFLINE: no leave to download',
  );
  const refused = planned(false, env);
  assert.ok(isRefusal(refused) && refused.reason === 'model', JSON.stringify(refused));
  assert.ok(refused.message.includes(`hf download ${MODEL}`));
  const cached = planned(false, hubCache({ 'config.json': '{}', 'model.safetensors': 'w' }));
  assert.ok(
    !isRefusal(cached) && cached.process.kind === 'trainer' && cached.process.env[MODEL_DOWNLOAD_ENV] === undefined,
  );
  const inherited = planned(false, {
    ...hubCache({ 'config.json': '{}', 'model.safetensors': 'w' }),
    [MODEL_DOWNLOAD_ENV]: '1',
  });
  assert.ok(
    !isRefusal(inherited) &&
      inherited.process.kind === 'trainer' &&
      inherited.process.env[MODEL_DOWNLOAD_ENV] === undefined,
    'an inherited permission is dropped offline',
  );
});

const download = (phase: DownloadEvent['phase'], done: number): DownloadEvent => ({
  event: 'download',
  time: 0,
  model: MODEL,
  phase,
  downloaded_bytes: done,
  total_bytes: 4 * 1024 ** 3,
  files: 7,
});

test('the CLI shows a download: a bar redrawn on a terminal, start, each tenth and done in a log', () => {
  assert.equal(
    formatDownload(download('progress', 1024 ** 3), 10),
    `[###.......]  25%  downloading ${MODEL}: 1.0/4.0 GiB (7 files)`,
  );
  assert.equal(formatDownload(download('done', 0), 10), `downloaded ${MODEL}: 4.0 GiB (7 files)`);
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  const reporter = new Reporter({ stdout: out, stderr: new PassThrough(), cwd: '/' }, false, false);
  for (const [phase, gib] of [
    ['start', 0],
    ['progress', 0.1],
    ['progress', 0.2],
    ['progress', 0.5],
    ['progress', 0.6],
    ['done', 4],
  ] as const) {
    reporter.event(download(phase, gib * 1024 ** 3));
  }
  assert.deepEqual(text.trim().split('\n'), [
    `downloading ${MODEL}: 0.0/4.0 GiB (7 files)`,
    `downloading ${MODEL}: 0.5/4.0 GiB (7 files)`,
    `downloaded ${MODEL}: 4.0 GiB (7 files)`,
  ]);
});

test('the panel shows a run as downloading until the trainer starts', () => {
  const series = reduceEvents([download('start', 0), download('progress', 1024 ** 3)]);
  assert.equal(runHeader(series).downloading, `downloading ${MODEL}: 1.0/4.0 GiB (25%)`);
  applyEvent(series, download('done', 4 * 1024 ** 3));
  assert.equal(runHeader(series).downloading, null);
  const failed = reduceEvents([download('start', 0), { event: 'end', time: 1, status: 'failed', step: 0 }]);
  assert.equal(runHeader(failed).downloading, null);
  assert.equal(runHeader(failed).status, 'failed');
});
