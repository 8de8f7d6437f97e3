/**
 * Scores the memory estimator on real measurements: each row's error against peak_alloc + CUDA context, the mean
 * absolute error and the worst row; then the time per estimateMemory call.
 * Run: npx tsx bench/estimate-accuracy.ts [file.jsonl ...] [--engine hf|lora-lens]
 * A row that names its engine ("engine": "lora-lens", as the trainer bench writes) is scored with that engine.
 * Rows with a measured step time also get the throughput model's tokens/s error (on the GPU the row names, else
 * the H100 of the original calibration files); H200 rows count that card's 0.60 GiB CUDA context.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { catalogModel } from '../server/src/core/models/catalog';
import {
  MEASURED_ARCH,
  measuredPeakGiB,
  measurementPlan,
  parseMeasurements,
} from '../server/src/core/estimate/memory/calibration';
import { estimateMemory } from '../server/src/core/estimate/memory/estimate';
import type { Engine } from '../server/src/core/plan/types';
import { lookupGpuName } from '../server/src/core/gpu/catalog';
import { estimateThroughput } from '../server/src/core/estimate/throughput/estimate';

const GiB = 2 ** 30;
const args = process.argv.slice(2);
const engineAt = args.indexOf('--engine');
const engine = (engineAt >= 0 ? args[engineAt + 1] : 'hf') as Engine;
const files = args.filter((a, i) => a.endsWith('.jsonl') && (engineAt < 0 || i !== engineAt + 1));
if (!files.length)
  files.push(
    ...['h100-hf-peft.jsonl', 'h200-throughput.jsonl', 'h200-h100-grid.jsonl'].map((f) =>
      join(__dirname, '..', 'test', 'fixtures', 'calibration', f),
    ),
  );
const timeErrors: number[] = [];

let sumAbs = 0;
let n = 0;
let worst = { err: 0, label: '' };
for (const file of files) {
  const fileTimeErrors: number[] = [];
  console.log(`# ${file} (engine ${engine})`);
  console.log(
    'row  arch           method targets         r  master seq  bs gc     measured  estimate   error  tok/s error  phase (engine)',
  );
  parseMeasurements(readFileSync(file, 'utf8')).forEach((m, i) => {
    const spec = catalogModel(MEASURED_ARCH[m.arch] ?? m.arch);
    if (!spec) {
      console.log(`${i + 1}: unknown arch ${m.arch}`);
      return;
    }
    const plan = measurementPlan(m, m.engine ?? engine);
    const est = estimateMemory(spec, plan, null);
    const row = m as typeof m & { gpu?: string; tok_s?: number };
    const onH200 = /h200/i.test(row.gpu ?? '');
    const measured = measuredPeakGiB(m, onH200 ? 0.6 : 0.51);
    const gpu = lookupGpuName(row.gpu ?? 'H100 80GB');
    const tput = gpu.ok && row.tok_s ? estimateThroughput(spec, plan, gpu.gpu) : null;
    const timeError = tput && row.tok_s ? tput.tokensPerSecond / row.tok_s - 1 : null;
    if (timeError !== null) {
      timeErrors.push(timeError);
      fileTimeErrors.push(timeError);
    }
    const got = est.peakBytes / GiB;
    // Rows timed without a memory reading (bench/gpu/measure_protocol.py) score the throughput only.
    const hasMemory = typeof m.peak_alloc_gib === 'number';
    const err = hasMemory ? got / measured - 1 : 0;
    if (hasMemory) {
      sumAbs += Math.abs(err);
      n += 1;
    }
    const label = `${String(i + 1).padStart(3)}  ${m.arch.padEnd(14)} ${m.method.padEnd(6)} ${(m.targets ?? '-').padEnd(15)} ${String(m.r ?? '-').padStart(2)} ${(m.master ?? '-').padEnd(6)} ${String(m.seq).padStart(4)} ${String(m.bs).padStart(2)} ${m.gc ? 'gc ' : '   '}`;
    if (Math.abs(err) > Math.abs(worst.err)) worst = { err, label };
    const memoryColumns = hasMemory
      ? `${measured.toFixed(2).padStart(8)} ${got.toFixed(2).padStart(9)} ${(100 * err).toFixed(1).padStart(6)}%`
      : `${'-'.padStart(8)} ${got.toFixed(2).padStart(9)} ${'-'.padStart(7)}`;
    console.log(
      `${label} ${memoryColumns}  ${timeError === null ? '          -' : `${(100 * timeError).toFixed(1).padStart(10)}%`}  ${est.peakPhase}${m.engine && m.engine !== engine ? ` (${m.engine})` : ''}`,
    );
  });
  if (fileTimeErrors.length) {
    const mae = fileTimeErrors.reduce((s, e) => s + Math.abs(e), 0) / fileTimeErrors.length;
    console.log(
      `  tokens/s: ${fileTimeErrors.length} rows, mean absolute error ${(100 * mae).toFixed(1)}%, worst ${(100 * Math.max(...fileTimeErrors.map(Math.abs))).toFixed(1)}%`,
    );
  }
}
const timeMae = timeErrors.reduce((s, e) => s + Math.abs(e), 0) / Math.max(1, timeErrors.length);
console.log(
  `\nthroughput: ${timeErrors.length} rows with a step time, mean absolute tokens/s error ${(100 * timeMae).toFixed(1)}%, worst ${(100 * Math.max(0, ...timeErrors.map(Math.abs))).toFixed(1)}%`,
);
console.log(
  `rows ${n}  mean absolute error ${((100 * sumAbs) / n).toFixed(2)}%  worst ${(100 * worst.err).toFixed(1)}% (row ${worst.label.trim()})`,
);

const spec = catalogModel('Qwen/Qwen2.5-7B')!;
const plan = measurementPlan({
  arch: 'qwen2.5-7b',
  method: 'lora',
  targets: 'all-linear',
  r: 16,
  seq: 2048,
  bs: 1,
  gc: true,
  total_params: 0,
  trainable: 0,
  peak_alloc_gib: 0,
  peak_reserved_gib: 0,
});
const iterations = 20000;
for (let i = 0; i < 1000; i++) estimateMemory(spec, plan, null);
const t0 = process.hrtime.bigint();
for (let i = 0; i < iterations; i++) estimateMemory(spec, plan, null);
const us = Number(process.hrtime.bigint() - t0) / 1e3 / iterations;
console.log(`estimateMemory: ${us.toFixed(2)} µs per call (${iterations} calls)`);
