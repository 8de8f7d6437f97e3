/**
 * Fits the step-time coefficients to measured steps: least squares on the relative error of tokens/s (every row counts as much as any
 * other, whatever its size), coefficients kept ≥ 0, by cyclic line searches over each coefficient in log space (the
 * smooth maximum makes the model non-linear; 8 coefficients and a few dozen rows make this cheap and dependable).
 * Used by bench/throughput-fit.ts; the fitted values are then written into profiles.ts, so estimating does no fitting.
 */
import { FEATURES, stepSeconds, type FeatureName, type FeatureVector } from './features';

export interface FitRow {
  features: FeatureVector;
  measuredSeconds: number;
}

// Scored on tokens per second (measured / predicted seconds), the figure users read and the bound is on.
function loss(rows: FitRow[], c: FeatureVector): number {
  return rows.reduce((sum, r) => sum + (r.measuredSeconds / stepSeconds(r.features, c) - 1) ** 2, 0);
}

/** Golden-section search of f over [lo, hi]. */
function goldenMin(f: (x: number) => number, lo: number, hi: number, steps = 40): number {
  const g = (Math.sqrt(5) - 1) / 2;
  let a = lo;
  let b = hi;
  for (let i = 0; i < steps; i++) {
    const x1 = b - g * (b - a);
    const x2 = a + g * (b - a);
    if (f(x1) < f(x2)) b = x2;
    else a = x1;
  }
  return (a + b) / 2;
}

/**
 * Coefficients minimising Σ (predicted / measured − 1)². `start` gives each coefficient's order of magnitude; each
 * sweep searches every coefficient over ±3 decades of log space around its value, or sets it to 0 when that is better.
 */
export function fitCoefficients(rows: FitRow[], start: FeatureVector, sweeps = 30): FeatureVector {
  const c: FeatureVector = { ...start };
  for (let sweep = 0; sweep < sweeps; sweep++) {
    for (const name of FEATURES) {
      const at = (logValue: number) => loss(rows, { ...c, [name]: 10 ** logValue });
      const centre = Math.log10(c[name] > 0 ? c[name] : start[name] || 1e-6);
      const best = goldenMin(at, centre - 3, centre + 3);
      const zero = loss(rows, { ...c, [name]: 0 });
      c[name] = zero <= at(best) ? 0 : 10 ** best;
    }
  }
  return c;
}

/** Relative errors of predicted against measured tokens per second. */
export function relativeErrors(rows: FitRow[], c: FeatureVector): number[] {
  return rows.map((r) => r.measuredSeconds / stepSeconds(r.features, c) - 1);
}

export type { FeatureName };
