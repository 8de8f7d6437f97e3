import { statSync } from 'node:fs';
import { freemem } from 'node:os';
import { DatasetInspector, inspectData } from '../core/data';
import { factsCacheDir, withFactsDiskCache } from '../core/data/factsDiskCache';
import { gpuFromSetting, type GpuSpec } from '../core/gpu';
import { detectGpus, machineGpuCount } from '../runs/gpuDetect';
import { launcherDecidesGpus } from '../core/analysis/launcherGpus';
import { isJsonUri, parseConfigDocument } from '../core/document/configDocument';
import { analyzeConfig, type Analysis, type AnalysisEnvironment } from '../core/analysis/analyze';
import type { Engine } from '../core/plan/types';
import type { DialectId } from '../core/dialects';
import type { HostRam } from '../core/estimate/memory/hostRam';

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
 * This machine's RAM for a run started here: Node's freemem, which on Linux is /proc/meminfo's MemAvailable (what the
 * trainer checks at start too); elsewhere the OS's free memory, which leaves out reclaimable caches.
 */
export function thisMachineRam(): HostRam {
  const source =
    process.platform === 'linux' ? "this machine's available RAM (MemAvailable)" : "this machine's free RAM";
  return { availableBytes: freemem(), source };
}

/** The running bundle's size and mtime: a rebuilt CLI does not read facts an older scanner wrote. */
function buildStamp(): string {
  try {
    const self = statSync(__filename);
    return `${self.size}:${self.mtimeMs}`;
  } catch {
    return 'unknown-build';
  }
}

/**
 * The CLI's dataset inspector: facts of an unchanged dataset come from the disk cache (factsDiskCache.ts) unless
 * LORA_LENS_CACHE_DIR=off; each process otherwise parses and scans every row again.
 */
export function cliDatasetInspector(env: NodeJS.ProcessEnv = process.env): DatasetInspector {
  const dir = factsCacheDir(env);
  return new DatasetInspector(dir ? withFactsDiskCache(inspectData, { dir, stamp: buildStamp() }) : inspectData);
}

export interface CliAnalysisOptions {
  gpu?: string;
  inspector?: DatasetInspector;
  hub?: boolean;
  /** `estimate --gpu` / `--engine`: the estimate is made against this GPU and engine profile, whatever the config says. */
  gpuOverride?: GpuSpec | null;
  engineOverride?: Engine;
  /** `check --dialect`: the dialect every file is read as. */
  forcedDialect?: DialectId;
  /** `check --tool-version`: the release each tool's files are checked against, by dialect id. */
  toolVersions?: Record<string, string>;
  /** The tools doctor found in the interpreter, by dialect id (`lora-lens run`'s pre-flight). */
  installedToolVersions?: Record<string, string>;
  /** `estimate --gpus N`: the GPUs a tool's file that names none is estimated on (else this machine's count). */
  gpuCount?: number;
}

/**
 * The CLI's analysis: the GPU from `--gpu`, else the first detected one; datasets inspected (bounded) and an
 * uncatalogued model looked up on the Hugging Face Hub before the rules run, so `check` in a terminal reports what
 * the editor shows once its background work finishes. `hub: false` (--offline) asks no server; the disk cache of
 * earlier lookups is read either way.
 */
export async function analyzeForCli(
  text: string,
  configPath: string,
  options: CliAnalysisOptions = {},
): Promise<Analysis & { gpuError?: string }> {
  let fallbackGpu: GpuSpec | null = null;
  let gpuError: string | undefined;
  if (options.gpu) {
    const lookup = cliGpu(options.gpu);
    if (lookup.ok) fallbackGpu = lookup.gpu;
    else gpuError = lookup.message;
  }
  const inspector = options.inspector ?? cliDatasetInspector();
  let environment: AnalysisEnvironment = {
    platform: process.platform,
    env: process.env,
    fallbackGpu,
    datasetFacts: (path, inspectOptions) => inspector.peek(path, inspectOptions),
    hub: { enabled: options.hub !== false, offSwitch: '--offline', env: process.env },
    gpuOverride: options.gpuOverride ?? null,
    // A GPU named on the command line is another machine's as often as not: its RAM is not this one's.
    hostRam: options.gpu || options.gpuOverride ? null : thisMachineRam(),
    ...(options.engineOverride ? { engineOverride: options.engineOverride } : {}),
    ...(options.gpuCount ? { gpuCount: { count: options.gpuCount, source: '--gpus' } } : {}),
    ...(options.forcedDialect ? { forcedDialect: options.forcedDialect } : {}),
    ...(options.toolVersions ? { toolVersions: options.toolVersions } : {}),
    ...(options.installedToolVersions ? { installedToolVersions: options.installedToolVersions } : {}),
  };
  const doc = parseConfigDocument(text, { json: isJsonUri(configPath) });
  let analysis = analyzeConfig({ doc, configPath, environment });
  // The model may arrive from the Hub and change what the datasets are read with (its tokenizer): a few rounds at most.
  for (let round = 0; round < 3; round++) {
    const waits: Array<Promise<unknown>> = analysis.pendingDatasets.map((d) =>
      inspector.inspect(d.path, d.options).catch(() => undefined),
    );
    if (analysis.pendingModel) waits.push(analysis.pendingModel.catch(() => undefined));
    if (waits.length === 0) break;
    await Promise.all(waits);
    analysis = analyzeConfig({ doc, configPath, environment });
  }
  // nvidia-smi is asked only when the config names no GPU: a config that does (and every --gpu) starts no process.
  if (!options.gpu && !options.gpuOverride && analysis.plan && !analysis.gpu) {
    const detection = await detectGpus();
    const detected = detection.ok ? (detection.gpus[0] ?? null) : null;
    if (detected) {
      environment = { ...environment, fallbackGpu: detected };
      analysis = analyzeConfig({ doc, configPath, environment });
    }
  }
  // A tool's file that shards but names no GPU count: its launcher uses this machine's GPUs (nvidia-smi asked then only).
  if (!environment.gpuCount && analysis.plan && launcherDecidesGpus(analysis.plan, analysis.sources !== undefined)) {
    const machine = await machineGpuCount();
    if (machine !== null && machine > 1) {
      const gpuCount = { count: machine, source: 'this machine (nvidia-smi, CUDA_VISIBLE_DEVICES applied)' };
      analysis = analyzeConfig({ doc, configPath, environment: { ...environment, gpuCount } });
    }
  }
  return gpuError ? { ...analysis, gpuError } : analysis;
}
