/**
 * A run of the user's own tool (axolotl, LLaMA-Factory) in a run folder like the bundled trainer's: the tool started
 * through the one supervised spawn (process.ts: pid file, SIGINT → grace → SIGTERM → group kill), its output kept
 * untouched in `tool.log`, our events in `events.jsonl` from the adapter (its printed logs, LLaMA-Factory's
 * trainer_log.jsonl tailed from output_dir, nvidia-smi samples of the run's GPUs), the end from the exit code.
 * No vscode; the CLI and the editor both start tool runs here.
 */
import { accessSync, appendFileSync, constants, copyFileSync, statSync } from 'node:fs';
import { basename, delimiter, dirname, isAbsolute, join } from 'node:path';
import { dialectDisplayName, toolDialectOf } from '../../core/dialects/registry';
import type { Estimate } from '../../core/estimate/memory/types';
import type { TrainingPlan } from '../../core/plan/types';
import type { EndEvent, TrainerEvent } from '../events';
import { installCommand } from '../doctor';
import { newRunDir } from '../args';
import { EVENTS_FILE } from '../lifecycle';
import { startSupervised, type StopOptions, type TrainerExit, type TrainerProcess } from '../process';
import { ToolOutputAdapter, type ExternalTool, type ToolRunContext } from './adapter';
import { buildToolCommand, TOOL_EXECUTABLE, TOOL_INSTALL } from './command';
import { startGpuSampler } from './gpuSampler';
import { FileTail } from '../fileTail';

/** The tool's own output (stdout and stderr, bytes untouched) in the run folder. */
export const TOOL_LOG_FILE = 'tool.log';

/** The tool as people name it: "axolotl", "LLaMA-Factory" (the dialect registry's display name). */
export function toolDisplayName(tool: ExternalTool): string {
  return dialectDisplayName(tool);
}

/** The progress log the tool writes in its output folder (LLaMA-Factory's trainer_log.jsonl), or null when it writes none. */
export function toolProgressLogPath(tool: ExternalTool, outputDir: string): string | null {
  const name = toolDialectOf(tool).tool.logFiles[0];
  return name ? join(outputDir, name) : null;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * The tool's executable: the console script next to the selected interpreter (`<python dir>/axolotl`, where pip put
 * it in that venv), else the first on PATH; null when neither has it.
 */
export function resolveToolExecutable(
  tool: ExternalTool,
  python: string,
  env: NodeJS.ProcessEnv = process.env,
): string | null {
  const name = TOOL_EXECUTABLE[tool];
  if (isAbsolute(python) || python.includes('/')) {
    const beside = join(dirname(python), name);
    if (isExecutable(beside)) return beside;
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return null;
}

/** The "not installed" message: names the tool, the install line, and the way to run the file with our trainer instead. */
export function missingToolMessage(tool: ExternalTool, python: string, configShown: string): string {
  // `lora-lens convert` writes <name>.finetune.yaml beside the config (and lists the keys it cannot carry).
  const converted = configShown.replace(/\.(ya?ml|json)$/i, '') + '.finetune.yaml';
  return (
    `${toolDisplayName(tool)} is not installed: no \`${TOOL_EXECUTABLE[tool]}\` next to ${python} or on PATH. ` +
    `Install it into that interpreter (${installCommand(python, [TOOL_INSTALL[tool].replace(/^pip install /, '')])}), or train the file with the LoRA Lens trainer: ` +
    `lora-lens convert ${configShown} (it lists every key the conversion loses), then lora-lens run ${converted}`
  );
}

/** The GPU indices of CUDA_VISIBLE_DEVICES when it lists numbers (the run's GPUs for the sampler); else undefined. */
export function visibleGpuIndices(env: NodeJS.ProcessEnv): number[] | undefined {
  const value = env.CUDA_VISIBLE_DEVICES?.trim();
  if (!value || !/^\d+(\s*,\s*\d+)*$/.test(value)) return undefined;
  return value.split(',').map((s) => Number(s.trim()));
}

/**
 * What a tool run is drawn against: the estimate's peak (CUDA context included), parameter counts, the GPU, and the
 * throughput model's tokens/s (as the `hf` engine: both tools run transformers' Trainer).
 */
export interface ToolEstimate {
  peakBytes: number;
  trainableParams: number;
  totalParams: number;
  gpu: { name: string; memory_bytes: number } | null;
  tokensPerSecond: number | null;
}

/** The CLI's full estimate, as a tool run needs it. */
export function toolEstimateOf(
  estimate: Estimate | null | undefined,
  tokensPerSecond: number | null = null,
): ToolEstimate | null {
  if (!estimate) return null;
  return {
    peakBytes: estimate.peakBytes,
    trainableParams: estimate.params.trainable,
    totalParams: estimate.params.total,
    gpu: estimate.gpu ? { name: estimate.gpu.name, memory_bytes: estimate.gpu.memoryBytes } : null,
    tokensPerSecond,
  };
}

/**
 * Where a tool run's folder goes: `<config dir>/runs/<run-id>/`, not inside the tool's output_dir (LLaMA-Factory
 * refuses to train into a non-empty one, and the tool's checkpoints are not ours to list).
 */
export function toolRunDir(configPath: string, now: Date): string {
  return newRunDir({ config_path: configPath, output: { dir: join(dirname(configPath), 'runs') } }, now);
}

/** What the adapter needs to know of the run, from the normalised plan and (when there is one) the estimate. Pure. */
export function toolRunContext(
  tool: ExternalTool,
  runId: string,
  plan: TrainingPlan,
  estimate: ToolEstimate | null,
  numTrainRows: number | null,
  now: () => number,
): ToolRunContext {
  const t = plan.training;
  const gpus = Math.max(1, plan.hardware.num_gpus);
  return {
    runId,
    tool,
    method: plan.method,
    model: plan.model.name_or_path,
    trainableParams: estimate?.trainableParams ?? 0,
    totalParams: estimate?.totalParams ?? 0,
    numTrainRows: numTrainRows ?? 0,
    // nvidia-smi sees the process's whole footprint, CUDA context included: the estimate it is drawn against is the
    // same, per GPU as the step's figure (the largest GPU's) is.
    estimatePeakBytes: estimate ? Math.round(estimate.peakBytes) : null,
    estimateTokensPerSecond: estimate?.tokensPerSecond != null ? Math.round(estimate.tokensPerSecond) : null,
    // Exact only with packing (every sequence full); padded batches would make it an overstatement.
    tokensPerStep: plan.data.packing
      ? t.per_device_train_batch_size * t.gradient_accumulation_steps * gpus * plan.data.max_length
      : null,
    loggingSteps: t.logging_steps > 0 ? t.logging_steps : null,
    gpu: estimate?.gpu ?? null,
    now,
  };
}

export { FileTail } from '../fileTail';

export interface ToolRunOptions {
  tool: ExternalTool;
  configPath: string;
  /** A run folder createRun made (it holds plan.json); the config is copied in, events.jsonl and tool.log written. */
  runDir: string;
  executable: string;
  context: ToolRunContext;
  /** LLaMA-Factory's `<output_dir>/trainer_log.jsonl`, tailed while it runs; null for axolotl. */
  trainerLogPath: string | null;
  gpus: number;
  env?: NodeJS.ProcessEnv;
  /** nvidia-smi (default: the one on PATH). */
  nvidiaSmi?: string;
  /** How often trainer_log.jsonl is read (ms). */
  pollMs?: number;
  onEvent?: (event: TrainerEvent) => void;
  /** Every line the tool prints (stdout and stderr), for a terminal or an output channel. */
  onOutput?: (line: string) => void;
}

/** Starts the tool on its config in a prepared run folder; the process answers like the trainer's (done, stop, pid). */
export function startToolRun(options: ToolRunOptions): TrainerProcess {
  const env = options.env ?? process.env;
  const adapter = new ToolOutputAdapter(options.context);
  const eventsPath = join(options.runDir, EVENTS_FILE);
  let end: EndEvent | null = null;
  const emit = (events: TrainerEvent[]) => {
    for (const event of events) {
      if (event.event === 'end') end = event;
      try {
        appendFileSync(eventsPath, `${JSON.stringify(event)}\n`);
      } catch {
        /* a run folder that vanished: the callbacks still hear it */
      }
      options.onEvent?.(event);
    }
  };
  try {
    copyFileSync(options.configPath, join(options.runDir, basename(options.configPath)));
  } catch {
    /* the plan.json still says what ran */
  }
  const command = buildToolCommand(options.tool, options.configPath, options.gpus, options.executable, env);
  const onLine = (line: string) => {
    options.onOutput?.(line);
    emit(adapter.line(line));
  };
  const supervised = startSupervised({
    command: command.command,
    args: command.args,
    cwd: command.cwd,
    env: command.env,
    pidFolder: options.runDir,
    logPath: join(options.runDir, TOOL_LOG_FILE),
    logStdout: true,
    onStdout: onLine,
    onStderr: onLine,
  });
  const tail = options.trainerLogPath ? new FileTail(options.trainerLogPath) : null;
  const readTail = () => {
    for (const line of tail?.read() ?? []) emit(adapter.llamaFactoryLogLine(line));
    emit(adapter.released());
  };
  const poll = tail ? setInterval(readTail, options.pollMs ?? 500) : null;
  const sampler = startGpuSampler({
    indices: visibleGpuIndices(env),
    command: options.nvidiaSmi,
    env,
    onSample: (round) => adapter.gpuSample(round.gpus.map((g) => g.usedBytes)),
    onUnavailable: (reason) => emit([adapter.warning(reason, 'gpu-sampler')]),
  });
  const done = supervised.done.then((exit): TrainerExit => {
    if (poll) clearInterval(poll);
    readTail();
    sampler.stop();
    if (!exit.spawnError) emit(adapter.exit(exit.code, exit.signal, exit.stopRequested));
    return { ...exit, end };
  });
  return {
    pid: supervised.pid,
    done,
    stop(stopOptions?: StopOptions | number) {
      void supervised.stop(stopOptions);
      return done;
    },
  };
}
