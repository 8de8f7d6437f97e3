// Per-rank GPU memory in other tools' runs (issue 21): axolotl, LLaMA-Factory and TRL start one process per GPU
// through their launchers, so the sampler's nvidia-smi rounds (`--query-gpu=index,memory.used,memory.total`) give
// each local rank's GPU. The parser and the rounds are pure and tested on an 8-GPU query's text
// (test/fixtures/nvidia-smi/query-gpu-index-memory-8xH100.txt, in nvidia-smi's CSV form; no GPU here to record one);
// the process path runs a stand-in nvidia-smi on PATH (a real child process that replays that text), through the
// sampler and through a whole tool run, whose step events then carry `rank_memory`, checked by the event schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { normalizeDialect } from '../../server/src/core/dialects/normalize';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { parseEventLine, type StepEvent, type TrainerEvent } from '../../server/src/runs/events';
import { createRun } from '../../server/src/runs/lifecycle';
import {
  GpuRounds,
  parseGpuMemoryLine,
  startGpuSampler,
  type GpuLine,
  type GpuRound,
} from '../../server/src/runs/tools/gpuSampler';
import { ToolOutputAdapter } from '../../server/src/runs/tools/adapter';
import { startToolRun, toolRunContext } from '../../server/src/runs/tools/toolRun';
import { REPO, tempDir } from '../run/helpers';

const MiB = 2 ** 20;
const FIXTURES = join(REPO, 'test', 'fixtures', 'nvidia-smi');
const RECORDED = readFileSync(join(FIXTURES, 'query-gpu-index-memory-8xH100.txt'), 'utf8');
const SMI_BIN = join(FIXTURES, 'bin');
const TOOL_BIN = join(REPO, 'test', 'fixtures', 'tools', 'bin');

function roundsOf(text: string, order: number[] = []): GpuRound[] {
  const rounds = new GpuRounds(order);
  const out: GpuRound[] = [];
  for (const line of text.split('\n')) {
    const reading = parseGpuMemoryLine(line);
    const round = reading ? rounds.push(reading) : null;
    if (round) out.push(round);
  }
  const last = rounds.flush();
  return last ? [...out, last] : out;
}

test('8 GPUs, three rounds: each round is the 8 GPUs in index order, found without being told the count', () => {
  const rounds = roundsOf(RECORDED);
  assert.equal(rounds.length, 3);
  for (const round of rounds)
    assert.deepEqual(
      round.gpus.map((g) => g.index),
      [0, 1, 2, 3, 4, 5, 6, 7],
    );
  assert.equal(rounds[1]!.gpus[0]!.usedBytes, 62041 * MiB);
  assert.equal(rounds[1]!.gpus[5]!.usedBytes, 60381 * MiB);
  assert.equal(rounds[0]!.totalBytes, 8 * 81559 * MiB);
  // Told the count (`-i`), a round ends at its last GPU: no waiting for the next round.
  const told = new GpuRounds([0, 1, 2, 3, 4, 5, 6, 7]);
  const lines = RECORDED.split('\n')
    .filter(Boolean)
    .slice(0, 8)
    .map((l) => parseGpuMemoryLine(l)!);
  assert.deepEqual(
    lines.slice(0, 7).map((l) => told.push(l)),
    Array(7).fill(null),
  );
  assert.equal(told.push(lines[7]!)?.gpus.length, 8);
});

test('CUDA_VISIBLE_DEVICES=3,1: local rank 0 runs on GPU 3, so GPU 3 comes first though nvidia-smi prints GPU 1 first', () => {
  const text = RECORDED.split('\n')
    .filter((l) => l.startsWith('1, ') || l.startsWith('3, '))
    .join('\n');
  const rounds = roundsOf(text, [3, 1]);
  assert.equal(rounds.length, 3);
  for (const round of rounds)
    assert.deepEqual(
      round.gpus.map((g) => g.index),
      [3, 1],
    );
});

test('a GPU whose memory reads [N/A] is left out of its round, not shifted onto the next GPU', () => {
  const text = RECORDED.split('\n')
    .map((l) => (l.startsWith('3, ') ? '3, [N/A], [N/A]' : l))
    .join('\n');
  const rounds = roundsOf(`memory.used [MiB]\n${text}`);
  assert.equal(rounds.length, 3);
  assert.deepEqual(
    rounds[2]!.gpus.map((g: GpuLine) => g.index),
    [0, 1, 2, 4, 5, 6, 7],
  );
});

test('the sampler runs the stand-in nvidia-smi from PATH: rounds of the GPUs -i names', async () => {
  const env = { ...process.env, PATH: `${SMI_BIN}:${dirname(process.execPath)}:/usr/bin:/bin` };
  const rounds: GpuRound[] = [];
  await new Promise<void>((done) => {
    const sampler = startGpuSampler({
      indices: [2, 3],
      intervalMs: 20,
      env,
      onSample: (round) => {
        rounds.push(round);
        if (rounds.length === 4) {
          sampler.stop();
          done();
        }
      },
      onUnavailable: (why) => assert.fail(why),
    });
  });
  assert.deepEqual(
    rounds[0]!.gpus.map((g) => [g.index, g.usedBytes / MiB]),
    [
      [2, 40215],
      [3, 40217],
    ],
  );
  assert.deepEqual(
    rounds.map((r) => r.gpus.length),
    [2, 2, 2, 2],
  );
});

const context = () => ({
  runId: 'r',
  tool: 'axolotl' as const,
  method: 'lora' as const,
  model: 'm',
  trainableParams: 1,
  totalParams: 2,
  numTrainRows: 3,
  estimatePeakBytes: null,
  estimateTokensPerSecond: null,
  tokensPerStep: null,
  loggingSteps: 1,
  gpu: null,
  now: () => 100,
});

test("the adapter: several GPUs make the step's figure the largest and each GPU its rank's; one GPU has no ranks", () => {
  const adapter = new ToolOutputAdapter(context());
  adapter.gpuSample(roundsOf(RECORDED)[1]!.gpus.map((g) => g.usedBytes));
  const step = adapter
    .line("{'loss': 1.25, 'grad_norm': 0.5, 'learning_rate': 0.0001, 'epoch': 0.1}")
    .find((e): e is StepEvent => e.event === 'step')!;
  assert.equal(step.device_used_bytes, 62041 * MiB);
  assert.deepEqual(
    step.rank_memory!.map((r) => [r.rank, r.device_used_bytes! / MiB, r.allocated_bytes]),
    [0, 1, 2, 3, 4, 5, 6, 7].map((rank) => [
      rank,
      [62041, 60377, 60377, 60379, 60377, 60381, 60377, 60377][rank],
      null,
    ]),
  );
  const parsed = parseEventLine(JSON.stringify(step));
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
  const single = new ToolOutputAdapter(context());
  single.gpuSample([5 * 2 ** 30]);
  const one = single.line("{'loss': 1.0, 'learning_rate': 0.0001, 'epoch': 0.1}").find((e) => e.event === 'step');
  assert.ok(one?.event === 'step' && one.rank_memory === undefined && one.device_used_bytes === 5 * 2 ** 30);
});

test('a LLaMA-Factory run on 8 GPUs (stand-ins for the tool and nvidia-smi): its steps carry each rank’s memory', async () => {
  const dir = tempDir('lora-lens-tool-ranks-');
  cpSync(join(REPO, 'test', 'fixtures', 'tools', 'configs'), dir, { recursive: true });
  const config = join(dir, 'llamafactory-lora.yaml');
  const plan = normalizeDialect('llama-factory', parseConfigDocument(readFileSync(config, 'utf8')), config).plan!;
  mkdirSync(plan.output.dir, { recursive: true });
  const runDir = join(dir, 'runs', 'lf8');
  assert.ok(createRun(runDir, plan).ok);
  const events: TrainerEvent[] = [];
  const run = startToolRun({
    tool: 'llama-factory',
    configPath: config,
    runDir,
    executable: join(TOOL_BIN, 'llamafactory-cli'),
    gpus: 8,
    env: {
      ...process.env,
      PATH: `${SMI_BIN}:${TOOL_BIN}:${dirname(process.execPath)}:/usr/bin:/bin`,
      CUDA_VISIBLE_DEVICES: '0,1,2,3,4,5,6,7',
      STANDIN_STEP_MS: '150',
      STANDIN_STEPS: '6',
    },
    pollMs: 20,
    context: toolRunContext('llama-factory', 'lf8', plan, null, 3, () => Date.now() / 1000),
    trainerLogPath: join(plan.output.dir, 'trainer_log.jsonl'),
    onEvent: (e) => events.push(e),
  });
  assert.equal((await run.done).code, 0);
  const ranked = events.filter((e): e is StepEvent => e.event === 'step' && e.rank_memory !== undefined);
  assert.ok(ranked.length > 0, 'no step carried rank_memory');
  for (const step of ranked) {
    assert.deepEqual(
      step.rank_memory!.map((r) => r.rank),
      [0, 1, 2, 3, 4, 5, 6, 7],
    );
    assert.equal(step.device_used_bytes, Math.max(...step.rank_memory!.map((r) => r.device_used_bytes!)));
    const parsed = parseEventLine(JSON.stringify(step));
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
  }
});
