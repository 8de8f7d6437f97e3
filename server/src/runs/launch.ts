/**
 * The one "prepare and start a run" use case, for the CLI (`lora-lens run`) and the editor (Run Fine-Tune, Resume)
 * alike: `planLaunch` decides everything that can be decided without starting anything (which folder, our trainer
 * or the user's tool, the argument array and environment, the sentence when it cannot be), and `launch` does it (the
 * run folder, the spawn, the pid file, the supervision). The callers only present the result.
 */
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { TrainingPlan } from '../core/plan/types';
import { offloadsOnOneGpu, oneProcessMessage } from '../core/plan/oneProcess';
import { offlineModelProblem, withModelDownload } from './modelDownload';
import { buildTrainerArgs, buildTrainerEnv, newRunDir, type TorchrunLayout, type TrainerInvocation } from './args';
import {
  checkNewRun,
  checkResumable,
  createRun,
  EVENTS_FILE,
  readEventsFile,
  undoCreateRun,
  type CreatedRun,
} from './lifecycle';
import { startTrainer, type TrainerCallbacks, type TrainerExit, type TrainerProcess } from './process';
import type { ExternalTool, ToolRunContext } from './tools/adapter';
import { buildToolCommand, type ToolCommand } from './tools/command';
import {
  missingToolMessage,
  resolveToolExecutable,
  startToolRun,
  toolDisplayName,
  toolProgressLogPath,
  toolRunContext,
  toolRunDir,
  type ToolEstimate,
} from './tools/toolRun';

/** What to start: a new run of a plan (by our trainer, or by the user's tool for its own config), or a resume. */
export type LaunchTarget =
  | {
      kind: 'new';
      plan: TrainingPlan;
      configPath: string | null;
      tool: ExternalTool | null;
      runDir: string | null;
      configShown?: string;
    }
  | { kind: 'resume'; runDir: string; anyway?: boolean };

/** What the estimator said of a new run: the trainer quotes the peak in its OOM advice; a tool run is drawn against it. */
export interface LaunchEstimate {
  peakAllocatedBytes: number | null;
  tokensPerSecond: number | null;
  /** The figures a tool run's events are drawn against (toolEstimateOf), null without an estimate. */
  tool: ToolEstimate | null;
  numTrainRows: number | null;
}

export interface LaunchInput {
  target: LaunchTarget;
  python: string;
  /** The trainer's working directory (the workspace, the terminal's folder); relative --run-dir paths resolve here. */
  cwd: string;
  trainerRoot: string | null;
  /** For a tool's config: the executable the doctor found in the interpreter's environment; else looked up beside it and on PATH. */
  toolExecutable?: string | null;
  estimate?: LaunchEstimate;
  now: Date;
  env?: NodeJS.ProcessEnv;
  /** Several machines: every one runs the same launch with these (torchrun's --nnodes and c10d rendezvous). */
  nodes?: { nnodes: number; rdzvEndpoint: string; rdzvId?: string };
  /** False with --offline / loraLens.hub off: the trainer may not fetch a model that is not on disk (modelDownload.ts). */
  hub?: boolean;
  /**
   * The GPUs this machine lets a run use (nvidia-smi's, narrowed by CUDA_VISIBLE_DEVICES: visibleGpuCount), when
   * known: a plan asking for more is refused. Absent or null: not checked (no nvidia-smi, or a CPU run under gloo).
   */
  machineGpus?: number | null;
}

export interface TrainerLaunch {
  kind: 'trainer';
  invocation: TrainerInvocation;
  cwd: string;
  trainerRoot: string | null;
  command: string;
  args: string[];
  /** The child's environment (buildTrainerEnv of `baseEnv`). */
  env: NodeJS.ProcessEnv;
  baseEnv: NodeJS.ProcessEnv;
}

export interface ToolLaunch {
  kind: 'tool';
  tool: ExternalTool;
  executable: string;
  configPath: string;
  context: ToolRunContext;
  /** The tool's progress log in its output_dir (LLaMA-Factory's trainer_log.jsonl), tailed while it runs; null when it writes none. */
  trainerLogPath: string | null;
  gpus: number;
  /** The tool's command line and environment (buildToolCommand of `baseEnv`). */
  command: ToolCommand;
  baseEnv: NodeJS.ProcessEnv;
}

export interface LaunchSpec {
  runDir: string;
  runId: string;
  resume: boolean;
  /** The plan a new run's folder gets (createRun); null when resuming (the folder has its plan). */
  plan: TrainingPlan | null;
  process: TrainerLaunch | ToolLaunch;
  /** One line for a log: what starts, where. */
  description: string;
}

/** Why a run cannot start, as a sentence; `reason` lets a caller pick its exit code or its buttons. */
export interface Refusal {
  refused: true;
  reason: 'folder' | 'resume' | 'missing-tool' | 'stdin' | 'config' | 'model';
  message: string;
}

export function isRefusal<T>(value: T | Refusal): value is Refusal {
  return typeof value === 'object' && value !== null && (value as Refusal).refused === true;
}

const refuse = (reason: Refusal['reason'], message: string): Refusal => ({ refused: true, reason, message });

/** Our trainer in a run folder: the invocation, its argument array and environment. Pure. */
export function trainerLaunch(
  invocation: Omit<TrainerInvocation, 'verb'>,
  cwd: string,
  trainerRoot: string | null,
  env: NodeJS.ProcessEnv = process.env,
): TrainerLaunch {
  const full: TrainerInvocation = { ...invocation, verb: 'run' };
  const { command, args } = buildTrainerArgs(full);
  return {
    kind: 'trainer',
    invocation: full,
    cwd,
    trainerRoot,
    command,
    args,
    env: buildTrainerEnv(env, trainerRoot),
    baseEnv: env,
  };
}

/**
 * How many processes our trainer runs as: one, or `hardware.num_gpus` per machine through torchrun with DDP or FSDP
 * (the trainer reads which from the plan). FSDP with CPU offload on one GPU is torchrun too, with one process: the
 * trainer wraps only a process torchrun started. A sentence when the plan asks for several GPUs in a way it cannot run.
 */
export function trainerLayout(
  hardware: Pick<TrainingPlan['hardware'], 'num_gpus' | 'distributed' | 'fsdp'>,
  nodes?: LaunchInput['nodes'],
): TorchrunLayout | null | string {
  const gpus = Math.max(1, Math.floor(hardware.num_gpus));
  const several = gpus > 1 || (nodes?.nnodes ?? 1) > 1;
  if (!several) return offloadsOnOneGpu(hardware) ? { nprocPerNode: 1 } : null;
  if (hardware.distributed === 'none') {
    return `hardware.num_gpus is ${gpus} but hardware.distributed is none: set hardware.distributed: ddp (each GPU holds the whole model) or fsdp (parameters, gradients and optimizer states sharded over the GPUs), or num_gpus: 1`;
  }
  if (hardware.distributed !== 'ddp' && hardware.distributed !== 'fsdp') {
    return `hardware.distributed ${hardware.distributed} is DeepSpeed's, which the bundled trainer does not run: set hardware.distributed: fsdp (PyTorch's sharding, like ZeRO-3) or ddp`;
  }
  return {
    nprocPerNode: gpus,
    ...(nodes && nodes.nnodes > 1
      ? { nnodes: nodes.nnodes, rdzvEndpoint: nodes.rdzvEndpoint, rdzvId: nodes.rdzvId }
      : {}),
  };
}

/**
 * A new run's layout, with the checks a resume does not repeat (its folder keeps the layout it started with): a
 * sharding strategy with one process (but FSDP with CPU offload), and more processes on this machine than it has GPUs.
 */
export function newRunLayout(
  hardware: Pick<TrainingPlan['hardware'], 'num_gpus' | 'distributed' | 'fsdp'>,
  nodes?: LaunchInput['nodes'],
  machineGpus?: number | null,
): TorchrunLayout | null | string {
  const gpus = Math.max(1, Math.floor(hardware.num_gpus));
  const oneProcess = gpus === 1 && (nodes?.nnodes ?? 1) <= 1 && !offloadsOnOneGpu(hardware);
  if (oneProcess && (hardware.distributed === 'ddp' || hardware.distributed === 'fsdp')) {
    return oneProcessMessage(hardware.distributed);
  }
  const layout = trainerLayout(hardware, nodes);
  if (layout && typeof layout !== 'string' && machineGpus && machineGpus > 0 && layout.nprocPerNode > machineGpus) {
    return `hardware.num_gpus is ${layout.nprocPerNode} but this machine has ${machineGpus} GPU${machineGpus === 1 ? '' : 's'} to train on (as nvidia-smi and CUDA_VISIBLE_DEVICES show): torchrun would start ${layout.nprocPerNode} processes per machine and the ones past GPU ${machineGpus - 1} would find none. Set hardware.num_gpus: ${machineGpus}${machineGpus === 1 ? ' and hardware.distributed: none' : ''}, or run it where ${layout.nprocPerNode} GPUs are free`;
  }
  return layout;
}

/** The hardware section of a run folder's plan.json, for a resume's layout; null when it cannot be read. */
function savedHardware(runDir: string): TrainingPlan['hardware'] | null {
  try {
    const plan = JSON.parse(readFileSync(join(runDir, 'plan.json'), 'utf8')) as Partial<TrainingPlan>;
    return plan.hardware ?? null;
  } catch {
    return null;
  }
}

/** The estimates a resumed run passes on again: those its first start event echoed. */
function previousEstimates(runDir: string): {
  estimatePeakBytes: number | null;
  estimateTokensPerSecond: number | null;
} {
  const start = readEventsFile(join(runDir, EVENTS_FILE)).find((e) => e.event === 'start');
  return start?.event === 'start'
    ? {
        estimatePeakBytes: start.estimate_peak_bytes ?? null,
        estimateTokensPerSecond: start.estimate_tokens_per_second ?? null,
      }
    : { estimatePeakBytes: null, estimateTokensPerSecond: null };
}

function planResume(input: LaunchInput, target: Extract<LaunchTarget, { kind: 'resume' }>): LaunchSpec | Refusal {
  const resumable = checkResumable(resolve(input.cwd, target.runDir));
  if (!resumable.ok) return refuse('resume', resumable.message);
  const runDir = resumable.runDir;
  const hardware = savedHardware(runDir);
  const layout = hardware ? trainerLayout(hardware, input.nodes) : null;
  if (typeof layout === 'string') return refuse('config', layout);
  const env = withModelDownload(input.env ?? process.env, input.hub);
  const process_ = trainerLaunch(
    {
      python: input.python,
      runDir,
      resume: true,
      resumeAnyway: target.anyway ?? false,
      processes: layout,
      ...previousEstimates(runDir),
    },
    input.cwd,
    input.trainerRoot,
    env,
  );
  return {
    runDir,
    runId: basename(runDir),
    resume: true,
    plan: null,
    process: process_,
    description: `${input.python} -m lora_lens_trainer run --resume in ${runDir}`,
  };
}

function planTool(
  input: LaunchInput,
  target: Extract<LaunchTarget, { kind: 'new' }>,
  tool: ExternalTool,
  runDir: string,
): LaunchSpec | Refusal {
  const configPath = target.configPath!;
  const executable = input.toolExecutable ?? resolveToolExecutable(tool, input.python, input.env);
  if (!executable)
    return refuse('missing-tool', missingToolMessage(tool, input.python, target.configShown ?? configPath));
  const { plan } = target;
  const runId = basename(runDir);
  const gpus = Math.max(1, plan.hardware.num_gpus);
  const machine = input.machineGpus;
  if (machine && machine > 0 && gpus > machine)
    return refuse(
      'config',
      `${toolDisplayName(tool)} would start ${gpus} processes (the GPU count the file sets) but this machine has ${machine} GPU${machine === 1 ? '' : 's'} to train on (as nvidia-smi and CUDA_VISIBLE_DEVICES show): set it to ${machine} or fewer, or run it where ${gpus} GPUs are free`,
    );
  const estimate = input.estimate;
  const context = toolRunContext(
    tool,
    runId,
    plan,
    estimate?.tool ?? null,
    estimate?.numTrainRows ?? null,
    () => Date.now() / 1000,
  );
  const baseEnv = input.env ?? process.env;
  const command = buildToolCommand(tool, configPath, gpus, executable, baseEnv);
  const trainerLogPath = toolProgressLogPath(tool, plan.output.dir);
  return {
    runDir,
    runId,
    resume: false,
    plan,
    process: { kind: 'tool', tool, executable, configPath, context, trainerLogPath, gpus, command, baseEnv },
    description: `${toolDisplayName(tool)}: ${executable} ${command.args.join(' ')} (its output in ${join(runDir, 'tool.log')})`,
  };
}

/**
 * Decides a launch without starting or writing anything: the run folder (given, else `<output.dir>/<run-id>/` for
 * our trainer and `<config dir>/runs/<run-id>/` for a tool), whether it may be used (new or empty; a resume only of
 * our own trainer's stopped run), and the command line. Reads the file system; spawns nothing, writes nothing.
 */
export function planLaunch(input: LaunchInput): LaunchSpec | Refusal {
  const { target } = input;
  if (target.kind === 'resume') return planResume(input, target);
  if (target.tool && !target.configPath)
    return refuse(
      'stdin',
      `${toolDisplayName(target.tool)} reads its config from a file: give the file's path instead of -`,
    );
  const runDir = target.runDir
    ? resolve(input.cwd, target.runDir)
    : target.tool
      ? toolRunDir(target.configPath!, input.now)
      : newRunDir(target.plan, input.now);
  const usable = checkNewRun(runDir);
  if (!usable.ok) return refuse('folder', usable.message);
  if (target.tool) return planTool(input, target, target.tool, runDir);
  const layout = newRunLayout(target.plan.hardware, input.nodes, input.machineGpus);
  if (typeof layout === 'string') return refuse('config', layout);
  const offline = offlineModelProblem(target.plan.model, input.hub, input.env ?? process.env, input.cwd);
  if (offline) return refuse('model', offline);
  const estimate = input.estimate;
  const process_ = trainerLaunch(
    {
      python: input.python,
      runDir,
      resume: false,
      processes: layout,
      estimatePeakBytes: estimate?.peakAllocatedBytes ?? null,
      estimateTokensPerSecond: estimate?.tokensPerSecond ?? null,
    },
    input.cwd,
    input.trainerRoot,
    withModelDownload(input.env ?? process.env, input.hub),
  );
  const how = layout
    ? `torchrun --nproc_per_node ${layout.nprocPerNode}${layout.nnodes ? ` --nnodes ${layout.nnodes}` : ''} `
    : '';
  return {
    runDir,
    runId: basename(runDir),
    resume: false,
    plan: target.plan,
    process: process_,
    description: `${how}${input.python} -m lora_lens_trainer run in ${runDir}`,
  };
}

/** Every line a launched run produces: the trainer's events and stderr, or the tool's events and output lines. */
export interface LaunchListeners extends TrainerCallbacks {
  /** Each line the user's tool prints (stdout and stderr), for a terminal tail or an output channel. */
  onOutput?: (line: string) => void;
}

/**
 * Starts a planned launch: a new run's folder and plan.json (createRun), then the trainer or the tool through the
 * one supervised spawn (pid file, stop sequence). When the interpreter or tool cannot be started at all, what
 * createRun made is taken back before `done` resolves, and nothing else is touched.
 */
export function launch(
  spec: LaunchSpec,
  listeners: LaunchListeners = {},
): { process: TrainerProcess; created: CreatedRun | null } | Refusal {
  let created: CreatedRun | null = null;
  if (spec.plan) {
    const made = createRun(spec.runDir, spec.plan);
    if (!made.ok) return refuse('folder', made.message);
    created = made;
  }
  const started =
    spec.process.kind === 'trainer'
      ? startPlannedTrainer(spec, spec.process, listeners)
      : startPlannedTool(spec, spec.process, listeners);
  const done = started.done.then((exit: TrainerExit) => {
    if (exit.spawnError && created) undoCreateRun(created);
    return exit;
  });
  return {
    process: {
      pid: started.pid,
      done,
      stop: (options) => {
        void started.stop(options);
        return done;
      },
    },
    created,
  };
}

function startPlannedTrainer(spec: LaunchSpec, planned: TrainerLaunch, listeners: LaunchListeners): TrainerProcess {
  return startTrainer({
    ...planned.invocation,
    cwd: planned.cwd,
    trainerRoot: planned.trainerRoot,
    env: planned.baseEnv,
    ...listeners,
    runDir: spec.runDir,
  });
}

function startPlannedTool(spec: LaunchSpec, planned: ToolLaunch, listeners: LaunchListeners): TrainerProcess {
  return startToolRun({
    tool: planned.tool,
    configPath: planned.configPath,
    runDir: spec.runDir,
    executable: planned.executable,
    context: planned.context,
    trainerLogPath: planned.trainerLogPath,
    gpus: planned.gpus,
    env: planned.baseEnv,
    onEvent: listeners.onEvent,
    onOutput: listeners.onOutput,
  });
}
