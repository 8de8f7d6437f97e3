import { ExitCode, type CliCommand, type CliIO } from './io';
import { runCommand as check } from './check';
import { runCommand as estimate } from './estimate';
import { runCommand as run } from './run';
import { runCommand as doctor } from './doctor';
import { runCommand as convert } from './convert';
import { runCommand as metrics } from './metrics';
import { runCommand as evaluate } from './eval';
import { runCommand as stop } from './stop';
import { runCommand as resume } from './resume';
import { runCommand as runs } from './runs';
import { runCommand as merge } from './merge';
import { runCommand as exportRun } from './export';
import { runCommand as preview } from './preview';

const VERSION = '0.1.0';

const COMMANDS: Record<string, { run: CliCommand; summary: string }> = {
  check: { run: check, summary: 'validate configs: schema and pitfall rules (exit 1 on errors)' },
  estimate: { run: estimate, summary: 'peak GPU memory, term by term, against a GPU (exit 1 when it does not fit)' },
  run: {
    run,
    summary:
      'train with the bundled trainer after checking the config and the environment (Ctrl-C stops with a checkpoint)',
  },
  runs: { run: runs, summary: 'list the run folders under a folder: status, steps, loss, training time, tool' },
  stop: {
    run: stop,
    summary: 'ask the trainer running in a run folder to stop with a checkpoint (verified pid, any terminal or window)',
  },
  resume: { run: resume, summary: 'continue a stopped run from its last checkpoint (the same as run --resume)' },
  merge: {
    run: merge,
    summary: "merge a run's adapter into its base model (RUN_DIR/merged), checked against the trained model",
  },
  export: {
    run: exportRun,
    summary:
      'write a finished run as a GGUF file (+ Ollama Modelfile) or a merged safetensors folder; --verify runs it in llama.cpp',
  },
  preview: {
    run: preview,
    summary:
      'the training rows as the trainer will feed them: chat template applied, masked tokens marked, token counts, the max_length cut',
  },
  convert: {
    run: convert,
    summary:
      'write the LoRA Lens config equivalent to an axolotl or LLaMA-Factory config, listing what is not carried over',
  },
  eval: {
    run: evaluate,
    summary:
      'the tuned model against its base on the evaluation file: loss, answers (eval/predictions.jsonl) and task metrics with the change',
  },
  metrics: {
    run: metrics,
    summary:
      'task metrics (exact match, F1, accuracy, macro-F1, ROUGE-L, BLEU, JSON) for a file of prediction/reference lines',
  },
  doctor: {
    run: doctor,
    summary: 'the environment: NVIDIA GPUs, the interpreter, torch, transformers, peft, and what to install',
  },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(9)}${c.summary}`);
  return (
    `lora-lens ${VERSION}: fine-tuning configs checked, estimated and run\n\nusage: lora-lens <command> [options]\n\ncommands:\n${lines.join('\n')}\n\n` +
    'Every command takes --json (or --format json) and -h/--help; check and estimate read stdin for FILE -.\n' +
    'Run "lora-lens <command> --help" for a command\'s options.\n'
  );
}

/** The CLI: usage and errors to stderr, exit 2 on a usage error (a bare `lora-lens` too), help to stdout. */
export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (!name) {
    io.stderr.write(usage());
    return ExitCode.usage;
  }
  if (name === '-h' || name === '--help' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    if (topic && COMMANDS[topic]) return COMMANDS[topic].run(['--help'], io);
    io.stdout.write(usage());
    return ExitCode.ok;
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write(`${VERSION}\n`);
    return ExitCode.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr.write(`lora-lens: unknown command "${name}"\n\n${usage()}`);
    return ExitCode.usage;
  }
  return command.run(rest, io);
}
