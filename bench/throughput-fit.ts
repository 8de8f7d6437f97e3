/**
 * Fits the throughput model's coefficients per engine on measured step times and prints every row's error, the
 * fit set's and the held-out set's. Paste the printed coefficients into server/src/core/estimate/throughput/profiles.ts.
 * Run: npx tsx bench/throughput-fit.ts
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lookupGpuName } from '../server/src/core/gpu/catalog';
import { gpuRates } from '../server/src/core/gpu/rates';
import {
  MEASURED_ARCH,
  measurementPlan,
  parseMeasurements,
  type Measurement,
} from '../server/src/core/estimate/memory/calibration';
import { catalogModel } from '../server/src/core/models/catalog';
import type { Engine } from '../server/src/core/plan/types';
import { fitCoefficients, relativeErrors, type FitRow } from '../server/src/core/estimate/throughput/fit';
import { FEATURES, stepFeatures } from '../server/src/core/estimate/throughput/features';
import { stepWork } from '../server/src/core/estimate/throughput/flops';

const dir = join(__dirname, '..', 'test', 'fixtures', 'calibration');
interface Row extends FitRow {
  label: string;
  m: Measurement;
}

function rowsOf(file: string, engine: Engine, gpuName: string): Row[] {
  const gpu = lookupGpuName(gpuName);
  if (!gpu.ok) throw new Error(gpu.message);
  const rates = gpuRates(gpu.gpu)!;
  return parseMeasurements(readFileSync(join(dir, file), 'utf8')).flatMap((m) => {
    const spec = catalogModel(MEASURED_ARCH[m.arch] ?? m.arch);
    if (!spec || !(m as { step_s?: number }).step_s) return [];
    const plan = measurementPlan(m, m.engine ?? engine);
    const features = stepFeatures(stepWork(spec, plan), spec.vocabSize, rates);
    const label = `${m.arch} ${m.method}${m.master ? `/${m.master}` : ''} ${m.targets ?? ''} r${m.r ?? '-'} seq${m.seq} bs${m.bs}${m.gc ? ' gc' : ''}`;
    return [{ features, measuredSeconds: (m as unknown as { step_s: number }).step_s, label, m }];
  });
}

function report(title: string, rows: Row[], c: Record<string, number>): void {
  const errors = relativeErrors(rows, c as never);
  console.log(
    `## ${title}: ${rows.length} rows, MAE ${((100 * errors.reduce((s, e) => s + Math.abs(e), 0)) / errors.length).toFixed(1)}%, worst ${(100 * Math.max(...errors.map(Math.abs))).toFixed(1)}%`,
  );
  rows.forEach((r, i) =>
    console.log(
      `  ${r.label.padEnd(52)} measured ${(r.m as unknown as { tok_s: number }).tok_s.toString().padStart(6)} tok/s  error ${(100 * errors[i]!).toFixed(1).padStart(6)}%`,
    ),
  );
}

// H200 rows (bench/gpu/measure_throughput.py, fastest of 5 timed steps): Qwen2-family rows fit the model, the other
// architectures are held out. The H100 rows (single samples, README of the calibration data) are scored as they are.
const fittedArch = new Set(['qwen2.5-0.5b', 'qwen2.5-1.5b', 'qwen2-7b']);
const heldOutArch = { has: (arch: string) => !fittedArch.has(arch) };
// Orders of magnitude to start from: ~2x the ideal for rate-bound terms, ~20 µs per dispatched kernel.
const START = {
  matmul: 2,
  attention: 4,
  memory: 2,
  dequant: 10,
  logits: 8,
  elementwise: 8,
  adapterElementwise: 8,
  layerLaunches: 1e-3,
  recomputeLaunches: 1e-3,
  adapterLaunches: 1e-4,
};
const sets: Array<{ engine: Engine; fit: Row[]; heldOut: Row[]; extra: Array<{ title: string; rows: Row[] }> }> = [];
for (const engine of ['hf', 'lora-lens'] as const) {
  // The H100 rows' configurations re-timed on the H200 (bench/gpu/measure_protocol.py) widen the fit to fp32 master
  // weights, q/v-only targets, rank 64 and sequence 4096.
  const h200 = [
    ...rowsOf('h200-throughput.jsonl', engine, 'H200'),
    ...(engine === 'hf' ? rowsOf('h200-h100-grid.jsonl', 'hf', 'H200') : []),
  ].filter((r) => (r.m.engine ?? 'hf') === engine);
  const h100 =
    engine === 'hf'
      ? [...rowsOf('h100-hf-peft.jsonl', 'hf', 'H100 80GB'), ...rowsOf('h100-hf-peft-heldout.jsonl', 'hf', 'H100 80GB')]
      : rowsOf('h100-lora-lens.jsonl', 'lora-lens', 'H100 80GB');
  sets.push({
    engine,
    fit: h200.filter((r) => !heldOutArch.has(r.m.arch)),
    heldOut: h200.filter((r) => heldOutArch.has(r.m.arch)),
    extra: [{ title: 'H100 (single-sample rows)', rows: h100 }],
  });
}
for (const s of sets) {
  const c = fitCoefficients(s.fit, START);
  console.log(`\n# engine ${s.engine}: ${FEATURES.map((n) => `${n}=${c[n].toPrecision(4)}`).join(' ')}`);
  report('fit', s.fit, c);
  report('held out', s.heldOut, c);
  for (const e of s.extra) report(e.title, e.rows, c);
}
