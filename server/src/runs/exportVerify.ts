/**
 * `lora-lens export --verify`: the exported GGUF run in llama.cpp (node-llama-cpp's prebuilt binary, on the CPU)
 * against the torch model's reference the trainer wrote beside it (trainer/lora_lens_trainer/export/reference.py):
 * llama.cpp must tokenize the chat prompt to the same ids, give the same next-token log-probabilities at every prompt
 * position within the type's tolerance, and generate the same greedy tokens up to the end-of-turn token.
 *
 * Log-probabilities, not raw logits: llama.cpp hands out softmax probabilities, and log-softmax is the logits up to
 * the one constant per position that the softmax drops, so nothing the model computes is hidden by the comparison.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** What reference.py writes (`<file>.reference.json`). */
export interface ExportReference {
  prompt_text: string;
  prompt_ids: number[];
  /** Per prompt position, the torch model's top tokens and their log-probabilities. */
  top_ids: number[][];
  top_logprobs: number[][];
  greedy_ids: number[];
  stop_ids: number[];
  stopped: boolean;
}

/** What llama.cpp gave for the same prompt. */
export interface LlamaCppRun {
  /** llama.cpp's own tokenization of the prompt text (special tokens parsed). */
  promptIds: number[];
  /** Per prompt position, the probability of each token. */
  probabilities: Array<Map<number, number>>;
  greedyIds: number[];
}

/**
 * Largest |log p(llama.cpp) - log p(torch)| allowed over the reference's top tokens, by GGUF type. f16 and q8_0 are
 * measured (tiny Llama and Qwen2, LoRA and QLoRA: 0.004-0.007 for f16, 0.09 for q8_0); the rest are set from the types'
 * precision (bf16 keeps 8 mantissa bits to f16's 11, q5/q4 about 5 and 4 bits per weight) and not yet measured.
 */
export const LOGPROB_TOLERANCE: Record<string, number> = {
  f32: 0.01,
  f16: 0.05,
  bf16: 0.15,
  q8_0: 0.3,
  q5_1: 0.6,
  q5_0: 0.6,
  q4_1: 1.0,
  q4_0: 1.0,
};
/** Tokens the torch model gives less than e^-20 are left out: their probabilities say nothing about the export. */
const LOGPROB_FLOOR = -20;
/** Types whose greedy tokens must equal torch's; a quantized file may take another path at a near tie. */
const EXACT_GREEDY = new Set(['f32', 'f16', 'bf16']);

export interface VerifyResult {
  passed: boolean;
  quant: string;
  tolerance: number;
  maxLogprobDiff: number;
  /** Where the largest difference is: prompt position and token id. */
  worst: { position: number; token: number } | null;
  tokenizerMatches: boolean;
  greedyMatches: boolean;
  /** The first step where llama.cpp's greedy token differs, or null. */
  greedyDivergesAt: number | null;
  stopsAtEndOfTurn: boolean;
  /** Whether torch reached the end-of-turn token (a base or barely trained model may not: nothing to hold llama.cpp to). */
  referenceStopped: boolean;
  problems: string[];
}

/** The comparison itself: pure, so its rules are tested without llama.cpp. */
export function compareToReference(ref: ExportReference, run: LlamaCppRun, quant: string): VerifyResult {
  const tolerance = LOGPROB_TOLERANCE[quant] ?? LOGPROB_TOLERANCE.q4_0!;
  let maxLogprobDiff = 0;
  let worst: VerifyResult['worst'] = null;
  ref.top_ids.forEach((ids, position) => {
    const probabilities = run.probabilities[position] ?? new Map<number, number>();
    ids.forEach((token, j) => {
      const want = ref.top_logprobs[position]![j]!;
      if (want < LOGPROB_FLOOR) return;
      const diff = Math.abs(Math.log(probabilities.get(token) ?? 0) - want);
      if (!(diff <= maxLogprobDiff)) {
        maxLogprobDiff = diff;
        worst = { position, token };
      }
    });
  });
  const tokenizerMatches = sameIds(run.promptIds, ref.prompt_ids);
  const divergence = ref.greedy_ids.findIndex((id, i) => run.greedyIds[i] !== id);
  const greedyDivergesAt =
    divergence >= 0 ? divergence : run.greedyIds.length > ref.greedy_ids.length ? ref.greedy_ids.length : null;
  const last = run.greedyIds[run.greedyIds.length - 1];
  const stopsAtEndOfTurn = last !== undefined && ref.stop_ids.includes(last);
  const problems: string[] = [];
  if (!tokenizerMatches)
    problems.push(
      `llama.cpp tokenizes the prompt to [${run.promptIds.join(', ')}], torch to [${ref.prompt_ids.join(', ')}]: the vocabulary, merges or pre-tokenizer differ`,
    );
  if (!(maxLogprobDiff <= tolerance))
    problems.push(
      `the largest log-probability difference is ${maxLogprobDiff.toPrecision(3)}, past the ${quant} tolerance ${tolerance}`,
    );
  if (greedyDivergesAt !== null && EXACT_GREEDY.has(quant))
    problems.push(`greedy generation differs from torch's at step ${greedyDivergesAt}`);
  if (ref.stopped && !stopsAtEndOfTurn)
    problems.push(
      `llama.cpp did not stop at the end-of-turn token within ${run.greedyIds.length} tokens (torch did): the model would never stop`,
    );
  return {
    passed: problems.length === 0,
    quant,
    tolerance,
    maxLogprobDiff,
    worst,
    tokenizerMatches,
    greedyMatches: greedyDivergesAt === null,
    greedyDivergesAt,
    stopsAtEndOfTurn,
    referenceStopped: ref.stopped,
    problems,
  };
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export function readReference(path: string): ExportReference {
  return JSON.parse(readFileSync(path, 'utf8')) as ExportReference;
}

/**
 * The llama.cpp side, run in a child Node process (an ES module): node-llama-cpp is ESM-only and native,
 * the CLI bundle is CommonJS compiled through a vm.Script whose import() has no loader, and a crash in llama.cpp
 * must not take the CLI with it. argv: mode (probe | run), the package's entry file, the GGUF, the reference.
 */
const LLAMA_CPP_CHILD = `
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
const [mode, entry, ggufPath, referencePath] = process.argv.slice(2);
const { getLlama } = await import(pathToFileURL(entry).href);
const llama = await getLlama({ gpu: false, build: 'never', progressLogs: false, logLevel: 'error' });
if (mode === 'probe') { await llama.dispose(); process.exit(0); }
const ref = JSON.parse(readFileSync(referencePath, 'utf8'));
const model = await llama.loadModel({ modelPath: ggufPath });
const context = await model.createContext({ contextSize: Math.max(256, ref.prompt_ids.length + ref.greedy_ids.length + 8), threads: 1 });
const sequence = context.getSequence();
const outputs = await sequence.controlledEvaluate(ref.prompt_ids.map((id) => [id, { generateNext: { probabilities: true } }]));
const probabilities = outputs.map((o, position) => ref.top_ids[position].map((id) => [id, o?.next?.probabilities?.get(id) ?? 0]));
await sequence.clearHistory();
const greedyIds = [];
// Past torch's stop token a few more, to see llama.cpp run on; where torch did not stop, as many as torch made.
const limit = ref.greedy_ids.length + (ref.stopped ? 8 : 0);
for await (const token of sequence.evaluate(ref.prompt_ids, { temperature: 0, yieldEogToken: true })) {
  greedyIds.push(token);
  if (model.isEogToken(token) || greedyIds.length >= limit) break;
}
const promptIds = Array.from(model.tokenize(ref.prompt_text, true));
process.stdout.write(JSON.stringify({ promptIds, probabilities, greedyIds }));
await context.dispose(); await model.dispose(); await llama.dispose();
`;

/** node-llama-cpp's entry file, looked for in node_modules above each folder (this bundle's, then the working one). */
export function findNodeLlamaCpp(from: readonly string[]): string | null {
  for (const start of from) {
    for (let dir = resolve(start); ; dir = dirname(dir)) {
      const entry = join(dir, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
      if (existsSync(entry)) return entry;
      if (dirname(dir) === dir) break;
    }
  }
  return null;
}

export const NODE_LLAMA_CPP_MISSING =
  'node-llama-cpp is not installed; install it with npm install node-llama-cpp@3.21.1 to verify an export';

/** Runs LLAMA_CPP_CHILD from a file of its own: node-llama-cpp forks a process to test its binary, and a fork of a
 * process started with -e code would run that code again instead. */
async function runChild(
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const folder = mkdtempSync(join(tmpdir(), 'lora-lens-llama-cpp-'));
  const script = join(folder, 'run.mjs');
  writeFileSync(script, LLAMA_CPP_CHILD);
  try {
    return await runScript(script, args, timeoutMs);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

function runScript(
  script: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      stderr += error.message;
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}

/** Why llama.cpp cannot run here (its prebuilt binary does not load), or false. */
export async function probeLlamaCpp(entry: string): Promise<string | false> {
  const result = await runChild(['probe', entry], 120_000);
  return result.code === 0
    ? false
    : `node-llama-cpp cannot load its prebuilt llama.cpp binary here: ${result.stderr.trim().split('\n').slice(-3).join(' ')}`;
}

/** Runs the prompt and the greedy continuation through llama.cpp on the CPU; rejects with llama.cpp's own words. */
export async function runInLlamaCpp(entry: string, ggufPath: string, referencePath: string): Promise<LlamaCppRun> {
  const result = await runChild(['run', entry, ggufPath, referencePath], 600_000);
  if (result.code !== 0)
    throw new Error(
      result.stderr
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('    at '))
        .slice(-4)
        .join(' ') || `exit ${result.code}`,
    );
  const parsed = JSON.parse(result.stdout) as {
    promptIds: number[];
    probabilities: Array<Array<[number, number]>>;
    greedyIds: number[];
  };
  return {
    promptIds: parsed.promptIds,
    probabilities: parsed.probabilities.map((pairs) => new Map(pairs)),
    greedyIds: parsed.greedyIds,
  };
}
