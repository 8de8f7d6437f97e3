/**
 * `lora-lens export RUN_DIR [--format gguf|merged] [--quant f16] [--out PATH] [--verify]`: a finished run as a GGUF
 * file with an Ollama Modelfile beside it, or a merged safetensors folder, written by the trainer tensor by tensor;
 * --verify runs the GGUF in llama.cpp against the torch model (server/src/runs/exportVerify.ts).
 */
import { resolve } from 'node:path';
import { EXPORT_QUANTS, describeExport, exportRun, type ExportFormat, type ExportQuant } from '../runs/export';
import {
  NODE_LLAMA_CPP_MISSING,
  compareToReference,
  findNodeLlamaCpp,
  readReference,
  runInLlamaCpp,
  type VerifyResult,
} from '../runs/exportVerify';
import { defaultPython, trainerRoot } from './doctor';
import { ExitCode, type CliIO } from './io';
import { parseArgs, helpText, shortUsage, type CommandSpec } from './options';

export const EXPORT: CommandSpec = {
  name: 'export',
  usage: ['RUN_DIR [--format gguf|merged] [--quant TYPE] [--out PATH] [--verify] [options]'],
  summary:
    'Writes a finished run (LoRA, QLoRA or full) as one GGUF file for llama.cpp, Ollama and LM Studio, with an\n' +
    'Ollama Modelfile beside it (chat template, stop tokens), or as a merged safetensors folder (--format merged) for\n' +
    'transformers and vLLM. The adapter is folded in tensor by tensor (QLoRA: into the dequantized 4-bit base it\n' +
    'trained on), so the export needs about one tensor of memory, not the model. Nothing half-written is left.',
  options: [
    {
      name: 'format',
      value: 'gguf|merged',
      help: 'what to write (default gguf); --format json|text still picks the output',
    },
    {
      name: 'quant',
      value: 'TYPE',
      help: `GGUF tensor type: ${EXPORT_QUANTS.join(', ')} (default f16). k-quants (q4_k_m...): export f16, then llama.cpp's llama-quantize`,
    },
    {
      name: 'out',
      value: 'PATH',
      help: 'the file (gguf) or folder (merged) to write (default RUN_DIR/export/<model>.<quant>.gguf)',
    },
    {
      name: 'verify',
      help: "run the GGUF in llama.cpp (node-llama-cpp, CPU) against the torch model: same prompt ids, log-probabilities within the type's tolerance, same greedy tokens, stops at the end-of-turn token",
    },
    {
      name: 'python',
      value: 'PATH',
      help: 'the interpreter with torch, transformers, peft and gguf (default $LORA_LENS_PYTHON, else python3)',
    },
  ],
  notes: [
    'exit: 0 written (and verified), 1 the export or the verification failed (the message says why), 2 usage error, 130 interrupted.',
  ],
  positionals: [1, 1],
  positionalName: 'RUN_DIR',
};

/** `--format gguf|merged` is what to write; the shared parser keeps `--format json|text` for the output. */
export function takeExportFormat(args: string[]): { args: string[]; format: ExportFormat | null } {
  const rest: string[] = [];
  let format: ExportFormat | null = null;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value =
      arg === '--format' ? args[i + 1] : arg.startsWith('--format=') ? arg.slice('--format='.length) : undefined;
    if (value === 'gguf' || value === 'merged') {
      format = value;
      if (arg === '--format') i++;
      continue;
    }
    rest.push(arg);
  }
  return { args: rest, format };
}

interface ExportArgs {
  runDir: string;
  format: ExportFormat;
  quant: ExportQuant;
  out: string | null;
  verify: boolean;
  python: string;
  json: boolean;
}

function readArgs(args: string[], io: CliIO): ExportArgs | string {
  const taken = takeExportFormat(args);
  const parsed = parseArgs(EXPORT, taken.args);
  if (typeof parsed === 'string') return parsed;
  if (parsed.help) return '';
  const quant = parsed.values.get('quant') ?? 'f16';
  if (!(EXPORT_QUANTS as readonly string[]).includes(quant)) {
    const how = /_k|^iq/.test(quant) ? `; ${quant} is made by llama.cpp's llama-quantize from an f16 export` : '';
    return `--quant must be one of ${EXPORT_QUANTS.join(', ')}, not "${quant}"${how}`;
  }
  const format = taken.format ?? 'gguf';
  if (format === 'merged' && parsed.flags.has('verify'))
    return '--verify checks a GGUF file; drop it with --format merged';
  const out = parsed.values.get('out');
  return {
    runDir: resolve(io.cwd, parsed.positionals[0]!),
    format,
    quant: quant as ExportQuant,
    out: out ? resolve(io.cwd, out) : null,
    verify: parsed.flags.has('verify'),
    python: parsed.values.get('python') ?? defaultPython(),
    json: parsed.format === 'json',
  };
}

export async function runCommand(args: string[], io: CliIO): Promise<number> {
  const read = readArgs(args, io);
  if (read === '') {
    io.stdout.write(helpText(EXPORT));
    return ExitCode.ok;
  }
  if (typeof read === 'string') {
    io.stderr.write(`lora-lens export: ${read}\n${shortUsage(EXPORT)}\n`);
    return ExitCode.usage;
  }
  const fail = (message: string, code: number = ExitCode.problems, extra: Record<string, unknown> = {}) => {
    if (read.json)
      io.stdout.write(`${JSON.stringify({ ok: false, run_dir: read.runDir, error: message, ...extra })}\n`);
    io.stderr.write(`lora-lens export: ${message}\n`);
    return code;
  };
  const exporting = exportRun(
    {
      python: read.python,
      runDir: read.runDir,
      format: read.format,
      quant: read.quant,
      out: read.out,
      reference: read.verify,
    },
    { cwd: io.cwd, trainerRoot: trainerRoot() },
  );
  const onSignal = () => exporting.cancel();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const outcome = await exporting.done.finally(() => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  });
  if (!outcome.ok) {
    if (outcome.kind === 'interrupted') return fail(outcome.message, ExitCode.interrupted);
    if (outcome.kind === 'python') return fail(`${outcome.message}; pass --python PATH (or set LORA_LENS_PYTHON)`);
    return fail(outcome.message);
  }
  const report = outcome.report;
  const verify = read.verify ? await verifyExport(report, io.cwd) : null;
  if (typeof verify === 'string') return fail(verify, ExitCode.problems, { report });
  if (read.json)
    io.stdout.write(
      `${JSON.stringify({ ok: verify ? verify.passed : true, run_dir: read.runDir, report, ...(verify ? { verify } : {}) })}\n`,
    );
  else io.stdout.write(describe(report, verify));
  if (verify && !verify.passed && !read.json)
    io.stderr.write(`lora-lens export: verification failed: ${verify.problems.join('; ')}\n`);
  return verify && !verify.passed ? ExitCode.problems : ExitCode.ok;
}

async function verifyExport(report: Record<string, unknown>, cwd: string): Promise<VerifyResult | string> {
  const entry = findNodeLlamaCpp([__dirname, cwd]);
  if (!entry) return NODE_LLAMA_CPP_MISSING;
  const referencePath = String(report.reference);
  try {
    return compareToReference(
      readReference(referencePath),
      await runInLlamaCpp(entry, String(report.path), referencePath),
      String(report.quant),
    );
  } catch (error) {
    return `llama.cpp could not run ${String(report.path)}: ${(error as Error).message}`;
  }
}

function describe(report: Record<string, unknown>, verify: VerifyResult | null): string {
  const lines =
    report.format === 'merged'
      ? [`wrote ${describeExport(report)}`]
      : [
          `wrote ${describeExport(report).replace(/\)$/, '')}; tensor types ${(report.tensor_types as string[]).join(', ')}; ${String(report.architecture)})`,
          `wrote ${String(report.modelfile)}: ollama create NAME -f ${String(report.modelfile)}`,
        ];
  if (verify) {
    lines.push(
      `verify in llama.cpp against torch: largest log-probability difference ${verify.maxLogprobDiff.toPrecision(3)} (tolerance ${verify.tolerance} for ${verify.quant}); ` +
        `prompt ids ${verify.tokenizerMatches ? 'the same' : 'DIFFER'}; greedy tokens ${verify.greedyMatches ? 'the same' : `differ from step ${verify.greedyDivergesAt}`}; ` +
        `${stopping(verify)}: ${verify.passed ? 'passed' : 'FAILED'}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function stopping(verify: VerifyResult): string {
  if (verify.stopsAtEndOfTurn) return 'stops at the end-of-turn token';
  return verify.referenceStopped
    ? 'does NOT stop at the end-of-turn token'
    : 'neither torch nor llama.cpp reached the end-of-turn token';
}
