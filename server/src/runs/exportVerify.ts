/**
 * `lora-lens export --verify`: the exported GGUF run in llama.cpp (node-llama-cpp's prebuilt binary, on the CPU)
 * against the torch model's reference the trainer wrote beside it (trainer/lora_lens_trainer/export/reference.py):
 * llama.cpp must tokenize the chat prompt to the same ids, give the same next-token log-probabilities at every prompt
 * position within the type's tolerance, and generate the same greedy tokens up to the end-of-turn token.
 *
 * Log-probabilities, not raw logits: llama.cpp hands out softmax probabilities, and log-softmax is the logits up to
 * the one constant per position that the softmax drops, so nothing the model computes is hidden by the comparison.
 */
import { readFileSync } from 'node:fs';

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
  f32: 0.01, f16: 0.05, bf16: 0.15, q8_0: 0.3, q5_1: 0.6, q5_0: 0.6, q4_1: 1.0, q4_0: 1.0,
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
      if (!(diff <= maxLogprobDiff)) { maxLogprobDiff = diff; worst = { position, token }; }
    });
  });
  const tokenizerMatches = sameIds(run.promptIds, ref.prompt_ids);
  const divergence = ref.greedy_ids.findIndex((id, i) => run.greedyIds[i] !== id);
  const greedyDivergesAt = divergence >= 0 ? divergence : run.greedyIds.length > ref.greedy_ids.length ? ref.greedy_ids.length : null;
  const last = run.greedyIds[run.greedyIds.length - 1];
  const stopsAtEndOfTurn = last !== undefined && ref.stop_ids.includes(last);
  const problems: string[] = [];
  if (!tokenizerMatches) problems.push(`llama.cpp tokenizes the prompt to [${run.promptIds.join(', ')}], torch to [${ref.prompt_ids.join(', ')}]: the vocabulary, merges or pre-tokenizer differ`);
  if (!(maxLogprobDiff <= tolerance)) problems.push(`the largest log-probability difference is ${maxLogprobDiff.toPrecision(3)}, past the ${quant} tolerance ${tolerance}`);
  if (greedyDivergesAt !== null && EXACT_GREEDY.has(quant)) problems.push(`greedy generation differs from torch's at step ${greedyDivergesAt}`);
  if (ref.stopped && !stopsAtEndOfTurn) problems.push(`llama.cpp did not stop at the end-of-turn token within ${run.greedyIds.length} tokens (torch did): the model would never stop`);
  return { passed: problems.length === 0, quant, tolerance, maxLogprobDiff, worst, tokenizerMatches, greedyMatches: greedyDivergesAt === null, greedyDivergesAt, stopsAtEndOfTurn, problems };
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export function readReference(path: string): ExportReference {
  return JSON.parse(readFileSync(path, 'utf8')) as ExportReference;
}

/** The part of node-llama-cpp 3.x used here, typed locally: the package is loaded only when --verify asks for it. */
interface NodeLlamaCpp {
  getLlama(options: { gpu: false; build: 'never'; progressLogs: boolean; logLevel: string }): Promise<{
    loadModel(options: { modelPath: string }): Promise<LlamaModelLike>;
    dispose(): Promise<void>;
  }>;
}
interface LlamaModelLike {
  tokenize(text: string, specialTokens: boolean): number[];
  isEogToken(token: number): boolean;
  createContext(options: { contextSize: number; threads: number }): Promise<{
    getSequence(): LlamaSequenceLike;
    dispose(): Promise<void>;
  }>;
  dispose(): Promise<void>;
}
interface LlamaSequenceLike {
  controlledEvaluate(input: Array<[number, { generateNext: { probabilities: true } }]>): Promise<Array<{ next?: { probabilities?: Map<number, number> } } | undefined>>;
  clearHistory(): Promise<void>;
  evaluate(tokens: number[], options: { temperature: 0; yieldEogToken: true }): AsyncGenerator<number, void, unknown>;
}

/** node-llama-cpp, or a sentence saying why it cannot be used here. */
export async function loadNodeLlamaCpp(): Promise<NodeLlamaCpp | string> {
  // A variable, not a literal: the bundler leaves the package out of dist/ (it ships native binaries).
  const name = 'node-llama-cpp';
  try {
    return await import(name) as NodeLlamaCpp;
  } catch (error) {
    return `node-llama-cpp is not installed (${(error as Error).message.split('\n')[0]}); install it with npm install node-llama-cpp@3.21.1 to verify an export`;
  }
}

/** Runs the prompt and the greedy continuation through llama.cpp on the CPU. */
export async function runInLlamaCpp(lib: NodeLlamaCpp, ggufPath: string, ref: ExportReference): Promise<LlamaCppRun> {
  const llama = await lib.getLlama({ gpu: false, build: 'never', progressLogs: false, logLevel: 'error' });
  const model = await llama.loadModel({ modelPath: ggufPath });
  const context = await model.createContext({ contextSize: Math.max(256, ref.prompt_ids.length + ref.greedy_ids.length + 8), threads: 1 });
  try {
    const sequence = context.getSequence();
    const outputs = await sequence.controlledEvaluate(ref.prompt_ids.map((id) => [id, { generateNext: { probabilities: true } }]));
    const probabilities = outputs.map((o) => o?.next?.probabilities ?? new Map<number, number>());
    await sequence.clearHistory();
    const greedyIds: number[] = [];
    // Past torch's stop token a few more, to see llama.cpp run on; where torch did not stop, as many as torch made.
    const limit = ref.greedy_ids.length + (ref.stopped ? 8 : 0);
    for await (const token of sequence.evaluate(ref.prompt_ids, { temperature: 0, yieldEogToken: true })) {
      greedyIds.push(token);
      if (model.isEogToken(token) || greedyIds.length >= limit) break;
    }
    return { promptIds: Array.from(model.tokenize(ref.prompt_text, true)), probabilities, greedyIds };
  } finally {
    await context.dispose();
    await model.dispose();
    await llama.dispose();
  }
}
