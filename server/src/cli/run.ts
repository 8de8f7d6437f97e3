import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { severityName } from '../diagnostics';
import { createRunFolder, newRunDir, findTrainerRoot, formatDuration, formatProgress, startTrainer, type TrainerEvent } from '../run';
import { analyzeForCli } from './environment';
import { ExitCode, type CliIO } from './io';
import { readConfigFile } from './readConfigFile';

const USAGE = 'usage: lora-lens run FILE [--run-dir DIR] [--python PATH]\n       lora-lens run --resume RUN_DIR [--python PATH]';

interface RunArgs { file: string | null; runDir: string | null; resume: string | null; python: string }

function parseArgs(args: string[]): RunArgs | string {
  const out: RunArgs = { file: null, runDir: null, resume: null, python: process.env.LORA_LENS_PYTHON || 'python3' };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = () => { const v = args[++i]; if (!v) throw new Error(`${arg} needs a value`); return v; };
    try {
      if (arg === '--run-dir') out.runDir = value();
      else if (arg === '--resume') out.resume = value();
      else if (arg === '--python') out.python = value();
      else if (arg.startsWith('-')) return `unknown option ${arg}`;
      else if (out.file) return `one config file at a time (got ${out.file} and ${arg})`;
      else out.file = arg;
    } catch (error) {
      return (error as Error).message;
    }
  }
  if (!out.file && !out.resume) return 'no config file given';
  if (out.file && out.resume) return '--resume continues an existing run folder: give it without FILE';
  return out;
}

const isTty = (stream: NodeJS.WritableStream) => Boolean((stream as NodeJS.WriteStream).isTTY);

/** Writes events as a progress bar (TTY: redrawn in place) or as plain lines (pipes, CI logs). */
class Reporter {
  private drawn = false;
  constructor(private readonly io: CliIO, private readonly tty: boolean) {}

  private line(text: string): void {
    if (this.drawn) { this.io.stdout.write('\n'); this.drawn = false; }
    this.io.stdout.write(`${text}\n`);
  }

  event(e: TrainerEvent): void {
    switch (e.event) {
      case 'start':
        this.line(`training ${e.model} (${e.method}): ${e.total_steps} steps, ${e.num_train_rows} rows, `
          + `${(e.trainable_params / 1e6).toFixed(1)}M of ${(e.total_params / 1e6).toFixed(1)}M parameters train`
          + (e.gpu?.name ? ` on ${e.gpu.name}` : '') + (e.resumed_from_step ? `, resumed at step ${e.resumed_from_step}` : ''));
        break;
      case 'step':
        if (this.tty) {
          const width = Math.max(10, Math.min(30, ((this.io.stdout as NodeJS.WriteStream).columns ?? 100) - 90));
          this.io.stdout.write(`\r\x1b[2K${formatProgress(e, width)}`);
          this.drawn = true;
        } else this.line(formatProgress(e, 0));
        break;
      case 'eval': this.line(`eval at step ${e.step}: loss ${e.eval_loss.toFixed(4)}`); break;
      case 'checkpoint': this.line(`checkpoint at step ${e.step}: ${e.path}`); break;
      case 'warning': this.line(`warning: ${e.message}`); break;
      case 'error':
        this.line(`error (${e.kind}): ${e.message}`);
        for (const advice of e.advice ?? []) this.line(`  - ${advice}`);
        break;
      case 'end':
        this.line(`${e.status} at step ${e.step}` + (typeof e.final_loss === 'number' ? `, final loss ${e.final_loss.toFixed(4)}` : '')
          + (typeof e.elapsed_s === 'number' ? `, ${formatDuration(e.elapsed_s)}` : '') + (e.adapter_path ? `; saved ${e.adapter_path}` : ''));
        break;
    }
  }
}

/**
 * `lora-lens run FILE`: checks the config, writes `<output.dir>/<run-id>/plan.json` (the editor's layout too), starts the trainer and shows its progress.
 * Ctrl-C stops the run with a checkpoint (a second Ctrl-C is passed on too); `--resume RUN_DIR` continues it.
 */
export async function runCommand(args: string[], io: CliIO): Promise<number> {
  if (args.includes('-h') || args.includes('--help')) { io.stdout.write(`${USAGE}\n`); return ExitCode.ok; }
  const parsed = parseArgs(args);
  if (typeof parsed === 'string') { io.stderr.write(`lora-lens run: ${parsed}\n${USAGE}\n`); return ExitCode.usage; }

  let runDir: string;
  let estimatePeakBytes: number | null = null;
  if (parsed.resume) {
    runDir = resolve(io.cwd, parsed.resume);
    if (!existsSync(join(runDir, 'plan.json'))) { io.stderr.write(`lora-lens run: ${runDir} has no plan.json to resume\n`); return ExitCode.usage; }
  } else {
    const read = await readConfigFile(parsed.file!, io.cwd);
    if (!read.ok) { io.stderr.write(`lora-lens run: ${read.message}\n`); return ExitCode.usage; }
    const analysis = await analyzeForCli(read.text, read.path);
    const errors = analysis.diagnostics.filter((d) => severityName(d.severity) === 'error');
    for (const d of errors) io.stderr.write(`${parsed.file}:${d.range.start.line + 1}:${d.range.start.character + 1}: error ${d.code ?? ''}: ${d.message}\n`);
    if (errors.length || !analysis.plan) {
      io.stderr.write(`lora-lens run: the config has ${errors.length || 'unreadable'} error(s); fix them first (lora-lens check ${parsed.file})\n`);
      return ExitCode.problems;
    }
    estimatePeakBytes = analysis.estimate?.peakAllocatedBytes ?? null;
    runDir = parsed.runDir ? resolve(io.cwd, parsed.runDir) : newRunDir(analysis.plan, new Date());
    try {
      createRunFolder(runDir, analysis.plan);
    } catch (error) {
      io.stderr.write(`lora-lens run: ${(error as Error).message}\n`);
      return ExitCode.usage;
    }
  }
  const trainerRoot = process.env.LORA_LENS_TRAINER_ROOT || findTrainerRoot(__dirname);
  io.stdout.write(`run folder: ${runDir}\n`);
  const reporter = new Reporter(io, isTty(io.stdout));
  const trainer = startTrainer({
    python: parsed.python, verb: 'run', runDir, resume: Boolean(parsed.resume), estimatePeakBytes, cwd: io.cwd, trainerRoot,
    onEvent: (e) => reporter.event(e),
    onStderr: (line) => io.stderr.write(`${line}\n`),
    onMalformed: (n, _text, reason) => io.stderr.write(`lora-lens run: skipped trainer output line ${n}: ${reason}\n`),
  });
  const onSignal = () => { void trainer.stop(); };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const exit = await trainer.done;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (exit.end?.status === 'completed' || exit.end?.status === 'stopped') {
    if (exit.end.status === 'stopped') io.stdout.write(`resume with: lora-lens run --resume ${runDir}\n`);
    return exit.code ?? ExitCode.problems;
  }
  if (!exit.end) io.stderr.write(`lora-lens run: the trainer exited (${exit.signal ?? `code ${exit.code}`}) without an end event; see ${join(runDir, 'trainer.log')}\n`);
  return exit.code && exit.code !== 0 ? exit.code : ExitCode.problems;
}
