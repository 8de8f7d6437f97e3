import { DatasetInspector } from '../data';
import { detectGpus, gpuFromSetting, type GpuSpec } from '../gpu';
import { isJsonUri, parseConfigDocument } from '../document/configDocument';
import { analyzeConfig, type Analysis, type AnalysisEnvironment } from '../services/analyze';

/**
 * A `--gpu` value: a catalog name or a size with a unit (gpuFromSetting), and a bare number as GiB (`16` is 16 GiB,
 * the unit people mean when they say "a 16 GB card").
 */
export function cliGpu(value: string): { ok: true; gpu: GpuSpec } | { ok: false; message: string } {
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) {
    const lookup = gpuFromSetting(`${text}GiB`);
    return lookup.ok ? { ok: true, gpu: { ...lookup.gpu, name: `${text} GiB GPU` } } : lookup;
  }
  return gpuFromSetting(text);
}

/**
 * The CLI's analysis: the GPU from `--gpu`, else the first detected one; datasets inspected (bounded) before the
 * rules run, so `check` in a terminal reports what the editor shows once its background inspection finishes.
 */
export async function analyzeForCli(text: string, configPath: string, options: { gpu?: string; inspector?: DatasetInspector } = {}): Promise<Analysis & { gpuError?: string }> {
  let fallbackGpu = null;
  let gpuError: string | undefined;
  if (options.gpu) {
    const lookup = cliGpu(options.gpu);
    if (lookup.ok) fallbackGpu = lookup.gpu;
    else gpuError = lookup.message;
  } else {
    const detection = await detectGpus();
    if (detection.ok) fallbackGpu = detection.gpus[0] ?? null;
  }
  const inspector = options.inspector ?? new DatasetInspector();
  const environment: AnalysisEnvironment = {
    platform: process.platform,
    env: process.env,
    fallbackGpu,
    datasetFacts: (path, inspectOptions) => inspector.peek(path, inspectOptions),
  };
  const doc = parseConfigDocument(text, { json: isJsonUri(configPath) });
  let analysis = analyzeConfig({ doc, configPath, environment });
  if (analysis.pendingDatasets.length > 0) {
    await Promise.all(analysis.pendingDatasets.map((d) => inspector.inspect(d.path, d.options).catch(() => undefined)));
    analysis = analyzeConfig({ doc, configPath, environment });
  }
  return gpuError ? { ...analysis, gpuError } : analysis;
}
