/**
 * Built-in catalog: the values of popular models' published config.json, so estimates work before a model is
 * downloaded. Instruct/chat variants share the base architecture and are aliases (with a chat template); so are
 * re-uploads of the same weights under another name (NousResearch's mirrors, fp16 re-saves, 2:4-pruned copies).
 */
import type { ArchFamily, ModelSpec } from './types';

interface Entry {
  ids: string[]; // canonical id first; the rest are aliases with the same architecture
  instruct: string[]; // aliases whose tokenizer ships a chat template
  family: ArchFamily;
  modelType: string;
  v: number; h: number; i: number; l: number; heads: number; kv: number; hd?: number;
  tied: boolean; maxPos: number;
  bias?: boolean; experts?: [number, number]; dtype?: string;
}

const E = (e: Entry): Entry => e;

const llama = (o: Omit<Entry, 'family' | 'modelType'>): Entry => E({ family: 'llama', modelType: 'llama', ...o });
const qwen2 = (o: Omit<Entry, 'family' | 'modelType' | 'bias'>): Entry =>
  E({ family: 'qwen2', modelType: 'qwen2', bias: true, ...o });
const qwen3 = (o: Omit<Entry, 'family' | 'modelType' | 'hd'>): Entry =>
  E({ family: 'qwen3', modelType: 'qwen3', hd: 128, ...o });

const ENTRIES: Entry[] = [
  // Llama 2 (MHA), Llama 3 / 3.1 / 3.2 / 3.3 (GQA, 128k vocab)
  llama({ ids: ['meta-llama/Llama-2-7b-hf', 'NousResearch/Llama-2-7b-hf'], instruct: ['meta-llama/Llama-2-7b-chat-hf'], v: 32000, h: 4096, i: 11008, l: 32, heads: 32, kv: 32, tied: false, maxPos: 4096, dtype: 'float16' }),
  llama({ ids: ['meta-llama/Llama-2-13b-hf'], instruct: ['meta-llama/Llama-2-13b-chat-hf'], v: 32000, h: 5120, i: 13824, l: 40, heads: 40, kv: 40, tied: false, maxPos: 4096, dtype: 'float16' }),
  llama({ ids: ['meta-llama/Llama-2-70b-hf'], instruct: ['meta-llama/Llama-2-70b-chat-hf'], v: 32000, h: 8192, i: 28672, l: 80, heads: 64, kv: 8, tied: false, maxPos: 4096, dtype: 'float16' }),
  llama({ ids: ['meta-llama/Meta-Llama-3-8B', 'NousResearch/Meta-Llama-3-8B'], instruct: ['meta-llama/Meta-Llama-3-8B-Instruct'], v: 128256, h: 4096, i: 14336, l: 32, heads: 32, kv: 8, tied: false, maxPos: 8192 }),
  llama({ ids: ['meta-llama/Meta-Llama-3-70B', 'casperhansen/llama-3-70b-fp16'], instruct: ['meta-llama/Meta-Llama-3-70B-Instruct'], v: 128256, h: 8192, i: 28672, l: 80, heads: 64, kv: 8, tied: false, maxPos: 8192 }),
  llama({ ids: ['meta-llama/Llama-3.1-8B', 'meta-llama/Meta-Llama-3.1-8B', 'NousResearch/Meta-Llama-3.1-8B', 'neuralmagic/Sparse-Llama-3.1-8B-2of4'], instruct: ['meta-llama/Llama-3.1-8B-Instruct', 'meta-llama/Meta-Llama-3.1-8B-Instruct', 'deepseek-ai/DeepSeek-R1-Distill-Llama-8B'], v: 128256, h: 4096, i: 14336, l: 32, heads: 32, kv: 8, tied: false, maxPos: 131072 }),
  llama({ ids: ['meta-llama/Llama-3.1-70B', 'meta-llama/Meta-Llama-3.1-70B'], instruct: ['meta-llama/Llama-3.1-70B-Instruct', 'meta-llama/Meta-Llama-3.1-70B-Instruct'], v: 128256, h: 8192, i: 28672, l: 80, heads: 64, kv: 8, tied: false, maxPos: 131072 }),
  llama({ ids: ['meta-llama/Llama-3.2-1B', 'NousResearch/Llama-3.2-1B'], instruct: ['meta-llama/Llama-3.2-1B-Instruct'], v: 128256, h: 2048, i: 8192, l: 16, heads: 32, kv: 8, hd: 64, tied: true, maxPos: 131072 }),
  llama({ ids: ['meta-llama/Llama-3.2-3B'], instruct: ['meta-llama/Llama-3.2-3B-Instruct'], v: 128256, h: 3072, i: 8192, l: 28, heads: 24, kv: 8, hd: 128, tied: true, maxPos: 131072 }),
  llama({ ids: ['meta-llama/Llama-3.3-70B-Instruct'], instruct: ['meta-llama/Llama-3.3-70B-Instruct', 'deepseek-ai/DeepSeek-R1-Distill-Llama-70B'], v: 128256, h: 8192, i: 28672, l: 80, heads: 64, kv: 8, tied: false, maxPos: 131072 }),
  // Code Llama (Llama 2 architecture, 16k positions, rope_theta 1e6): Meta's params.json table (dim, layers, heads,
  // kv heads, vocab, ffn) and CodeLlama-7b-Instruct-hf's config.json (max_position_embeddings 16384, bfloat16).
  llama({ ids: ['codellama/CodeLlama-7b-hf'], instruct: ['codellama/CodeLlama-7b-Instruct-hf'], v: 32016, h: 4096, i: 11008, l: 32, heads: 32, kv: 32, tied: false, maxPos: 16384 }),
  llama({ ids: ['codellama/CodeLlama-13b-hf'], instruct: ['codellama/CodeLlama-13b-Instruct-hf'], v: 32016, h: 5120, i: 13824, l: 40, heads: 40, kv: 40, tied: false, maxPos: 16384 }),
  llama({ ids: ['codellama/CodeLlama-34b-hf'], instruct: ['codellama/CodeLlama-34b-Instruct-hf'], v: 32000, h: 8192, i: 22016, l: 48, heads: 64, kv: 8, tied: false, maxPos: 16384 }),
  // TinyLlama 1.1B (Llama architecture, GQA 32/4): the TinyLlama params table; 2048 positions.
  // TinyLlama-1.1B-Chat-v1.0 and the 3T-token intermediate checkpoint share it (huggingface.co/TinyLlama/TinyLlama-1.1B-Chat-v1.0/blob/main/config.json).
  llama({ ids: ['TinyLlama/TinyLlama_v1.1', 'TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T'], instruct: ['TinyLlama/TinyLlama-1.1B-Chat-v1.0'], v: 32000, h: 2048, i: 5632, l: 22, heads: 32, kv: 4, tied: false, maxPos: 2048 }),
  // OpenLLaMA 3B v2: EasyLM's (openlm-research) 3b config: 26 layers of 3200, ffn 8640, 2048 positions.
  llama({ ids: ['openlm-research/open_llama_3b_v2'], instruct: [], v: 32000, h: 3200, i: 8640, l: 26, heads: 32, kv: 32, tied: false, maxPos: 2048, dtype: 'float16' }),
  // Qwen2 / Qwen2.5 (q/k/v bias; small ones tie embeddings)
  // Qwen2 0.5B / 1.5B: the base models publish 131,072 positions, the instruct models 32,768
  // (huggingface.co/Qwen/Qwen2-0.5B, Qwen2-0.5B-Instruct, Qwen2-1.5B, Qwen2-1.5B-Instruct: config.json).
  qwen2({ ids: ['Qwen/Qwen2-0.5B'], instruct: [], v: 151936, h: 896, i: 4864, l: 24, heads: 14, kv: 2, tied: true, maxPos: 131072 }),
  qwen2({ ids: ['Qwen/Qwen2-0.5B-Instruct'], instruct: ['Qwen/Qwen2-0.5B-Instruct'], v: 151936, h: 896, i: 4864, l: 24, heads: 14, kv: 2, tied: true, maxPos: 32768 }),
  qwen2({ ids: ['Qwen/Qwen2-1.5B'], instruct: [], v: 151936, h: 1536, i: 8960, l: 28, heads: 12, kv: 2, tied: true, maxPos: 131072 }),
  qwen2({ ids: ['Qwen/Qwen2-1.5B-Instruct'], instruct: ['Qwen/Qwen2-1.5B-Instruct'], v: 151936, h: 1536, i: 8960, l: 28, heads: 12, kv: 2, tied: true, maxPos: 32768 }),
  qwen2({ ids: ['Qwen/Qwen2-7B'], instruct: ['Qwen/Qwen2-7B-Instruct'], v: 152064, h: 3584, i: 18944, l: 28, heads: 28, kv: 4, tied: false, maxPos: 131072 }),
  qwen2({ ids: ['Qwen/Qwen2.5-0.5B'], instruct: ['Qwen/Qwen2.5-0.5B-Instruct'], v: 151936, h: 896, i: 4864, l: 24, heads: 14, kv: 2, tied: true, maxPos: 32768 }),
  qwen2({ ids: ['Qwen/Qwen2.5-1.5B'], instruct: ['Qwen/Qwen2.5-1.5B-Instruct'], v: 151936, h: 1536, i: 8960, l: 28, heads: 12, kv: 2, tied: true, maxPos: 131072 }),
  qwen2({ ids: ['Qwen/Qwen2.5-3B'], instruct: ['Qwen/Qwen2.5-3B-Instruct'], v: 151936, h: 2048, i: 11008, l: 36, heads: 16, kv: 2, tied: true, maxPos: 32768 }),
  qwen2({ ids: ['Qwen/Qwen2.5-7B'], instruct: ['Qwen/Qwen2.5-7B-Instruct', 'deepseek-ai/DeepSeek-R1-Distill-Qwen-7B'], v: 152064, h: 3584, i: 18944, l: 28, heads: 28, kv: 4, tied: false, maxPos: 131072 }),
  qwen2({ ids: ['Qwen/Qwen2.5-14B'], instruct: ['Qwen/Qwen2.5-14B-Instruct', 'deepseek-ai/DeepSeek-R1-Distill-Qwen-14B'], v: 152064, h: 5120, i: 13824, l: 48, heads: 40, kv: 8, tied: false, maxPos: 131072 }),
  qwen2({ ids: ['Qwen/Qwen2.5-32B'], instruct: ['Qwen/Qwen2.5-32B-Instruct', 'deepseek-ai/DeepSeek-R1-Distill-Qwen-32B'], v: 152064, h: 5120, i: 27648, l: 64, heads: 40, kv: 8, tied: false, maxPos: 131072 }),
  qwen2({ ids: ['Qwen/Qwen2.5-72B'], instruct: ['Qwen/Qwen2.5-72B-Instruct'], v: 152064, h: 8192, i: 29568, l: 80, heads: 64, kv: 8, tied: false, maxPos: 131072 }),
  // DeepSeek-R1-Distill-Qwen-1.5B is Qwen2.5-Math-1.5B: untied embeddings, unlike Qwen2.5-1.5B.
  qwen2({ ids: ['deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B'], instruct: ['deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B'], v: 151936, h: 1536, i: 8960, l: 28, heads: 12, kv: 2, tied: false, maxPos: 131072 }),
  // Qwen3: head_dim 128 independent of hidden/heads, per-head q/k RMSNorm, no qkv bias
  qwen3({ ids: ['Qwen/Qwen3-0.6B-Base'], instruct: ['Qwen/Qwen3-0.6B'], v: 151936, h: 1024, i: 3072, l: 28, heads: 16, kv: 8, tied: true, maxPos: 40960 }),
  qwen3({ ids: ['Qwen/Qwen3-1.7B-Base'], instruct: ['Qwen/Qwen3-1.7B'], v: 151936, h: 2048, i: 6144, l: 28, heads: 16, kv: 8, tied: true, maxPos: 40960 }),
  qwen3({ ids: ['Qwen/Qwen3-4B-Base'], instruct: ['Qwen/Qwen3-4B'], v: 151936, h: 2560, i: 9728, l: 36, heads: 32, kv: 8, tied: true, maxPos: 40960 }),
  // Qwen3-4B-Instruct-2507: the 4B geometry with 262,144 positions (rope_theta 5e6).
  qwen3({ ids: ['Qwen/Qwen3-4B-Instruct-2507'], instruct: ['Qwen/Qwen3-4B-Instruct-2507'], v: 151936, h: 2560, i: 9728, l: 36, heads: 32, kv: 8, tied: true, maxPos: 262144 }),
  qwen3({ ids: ['Qwen/Qwen3-8B-Base'], instruct: ['Qwen/Qwen3-8B'], v: 151936, h: 4096, i: 12288, l: 36, heads: 32, kv: 8, tied: false, maxPos: 40960 }),
  qwen3({ ids: ['Qwen/Qwen3-14B-Base'], instruct: ['Qwen/Qwen3-14B'], v: 151936, h: 5120, i: 17408, l: 40, heads: 40, kv: 8, tied: false, maxPos: 40960 }),
  qwen3({ ids: ['Qwen/Qwen3-32B'], instruct: ['Qwen/Qwen3-32B'], v: 151936, h: 5120, i: 25600, l: 64, heads: 64, kv: 8, tied: false, maxPos: 40960 }),
  // Mistral / Mixtral
  // Mistral Small 3 (24B, 2501): huggingface.co/mistralai/Mistral-Small-24B-Base-2501/blob/main/config.json.
  E({ family: 'mistral', modelType: 'mistral', ids: ['mistralai/Mistral-Small-24B-Base-2501'], instruct: ['mistralai/Mistral-Small-24B-Instruct-2501'], v: 131072, h: 5120, i: 32768, l: 40, heads: 32, kv: 8, hd: 128, tied: false, maxPos: 32768 }),
  // Mistral-7B-v0.1: its config.json as transformers prints it (32k vocab, 32,768 positions, sliding window 4096).
  E({ family: 'mistral', modelType: 'mistral', ids: ['mistralai/Mistral-7B-v0.1'], instruct: ['mistralai/Mistral-7B-Instruct-v0.1'], v: 32000, h: 4096, i: 14336, l: 32, heads: 32, kv: 8, tied: false, maxPos: 32768 }),
  // Mistral-7B-Instruct-v0.2: v0.1's 32k vocabulary without the sliding window, rope_theta 1e6
  // (huggingface.co/mistralai/Mistral-7B-Instruct-v0.2/blob/main/config.json).
  E({ family: 'mistral', modelType: 'mistral', ids: ['mistralai/Mistral-7B-Instruct-v0.2'], instruct: ['mistralai/Mistral-7B-Instruct-v0.2'], v: 32000, h: 4096, i: 14336, l: 32, heads: 32, kv: 8, tied: false, maxPos: 32768 }),
  E({ family: 'mistral', modelType: 'mistral', ids: ['mistralai/Mistral-7B-v0.3'], instruct: ['mistralai/Mistral-7B-Instruct-v0.3'], v: 32768, h: 4096, i: 14336, l: 32, heads: 32, kv: 8, tied: false, maxPos: 32768 }),
  E({ family: 'mistral', modelType: 'mistral', ids: ['mistralai/Mistral-Nemo-Base-2407'], instruct: ['mistralai/Mistral-Nemo-Instruct-2407'], v: 131072, h: 5120, i: 14336, l: 40, heads: 32, kv: 8, hd: 128, tied: false, maxPos: 1024000 }),
  E({ family: 'mixtral', modelType: 'mixtral', ids: ['mistralai/Mixtral-8x7B-v0.1'], instruct: ['mistralai/Mixtral-8x7B-Instruct-v0.1'], v: 32000, h: 4096, i: 14336, l: 32, heads: 32, kv: 8, tied: false, maxPos: 32768, experts: [8, 2] }),
  // Gemma 2 / 3 (tied embeddings, 4 norms per layer; Gemma 3 adds q/k norm). Gemma 3 4B+ is the text tower.
  E({ family: 'gemma2', modelType: 'gemma2', ids: ['google/gemma-2-2b'], instruct: ['google/gemma-2-2b-it'], v: 256000, h: 2304, i: 9216, l: 26, heads: 8, kv: 4, hd: 256, tied: true, maxPos: 8192, dtype: 'float32' }),
  E({ family: 'gemma2', modelType: 'gemma2', ids: ['google/gemma-2-9b'], instruct: ['google/gemma-2-9b-it'], v: 256000, h: 3584, i: 14336, l: 42, heads: 16, kv: 8, hd: 256, tied: true, maxPos: 8192, dtype: 'float32' }),
  E({ family: 'gemma2', modelType: 'gemma2', ids: ['google/gemma-2-27b'], instruct: ['google/gemma-2-27b-it'], v: 256000, h: 4608, i: 36864, l: 46, heads: 32, kv: 16, hd: 128, tied: true, maxPos: 8192, dtype: 'float32' }),
  E({ family: 'gemma3', modelType: 'gemma3_text', ids: ['google/gemma-3-1b-pt'], instruct: ['google/gemma-3-1b-it'], v: 262144, h: 1152, i: 6912, l: 26, heads: 4, kv: 1, hd: 256, tied: true, maxPos: 32768 }),
  E({ family: 'gemma3', modelType: 'gemma3_text', ids: ['google/gemma-3-4b-pt'], instruct: ['google/gemma-3-4b-it'], v: 262208, h: 2560, i: 10240, l: 34, heads: 8, kv: 4, hd: 256, tied: true, maxPos: 131072 }),
  E({ family: 'gemma3', modelType: 'gemma3_text', ids: ['google/gemma-3-12b-pt'], instruct: ['google/gemma-3-12b-it'], v: 262208, h: 3840, i: 15360, l: 48, heads: 16, kv: 8, hd: 256, tied: true, maxPos: 131072 }),
  E({ family: 'gemma3', modelType: 'gemma3_text', ids: ['google/gemma-3-27b-pt'], instruct: ['google/gemma-3-27b-it'], v: 262208, h: 5376, i: 21504, l: 62, heads: 32, kv: 16, hd: 128, tied: true, maxPos: 131072 }),
  // Phi-3 / 3.5 / 4 (fused qkv_proj and gate_up_proj)
  E({ family: 'phi3', modelType: 'phi3', ids: ['microsoft/Phi-3-mini-4k-instruct'], instruct: ['microsoft/Phi-3-mini-4k-instruct'], v: 32064, h: 3072, i: 8192, l: 32, heads: 32, kv: 32, tied: false, maxPos: 4096 }),
  E({ family: 'phi3', modelType: 'phi3', ids: ['microsoft/Phi-3-mini-128k-instruct'], instruct: ['microsoft/Phi-3-mini-128k-instruct'], v: 32064, h: 3072, i: 8192, l: 32, heads: 32, kv: 32, tied: false, maxPos: 131072 }),
  E({ family: 'phi3', modelType: 'phi3', ids: ['microsoft/Phi-3-medium-4k-instruct'], instruct: ['microsoft/Phi-3-medium-4k-instruct'], v: 32064, h: 5120, i: 17920, l: 40, heads: 40, kv: 10, tied: false, maxPos: 4096 }),
  E({ family: 'phi3', modelType: 'phi3', ids: ['microsoft/Phi-3.5-mini-instruct'], instruct: ['microsoft/Phi-3.5-mini-instruct'], v: 32064, h: 3072, i: 8192, l: 32, heads: 32, kv: 32, tied: false, maxPos: 131072 }),
  // Phi-4-mini: 200k vocabulary, GQA 24/8, tied embeddings, partial rotary 0.75 (huggingface.co/microsoft/Phi-4-mini-instruct/blob/main/config.json).
  E({ family: 'phi3', modelType: 'phi3', ids: ['microsoft/Phi-4-mini-instruct'], instruct: ['microsoft/Phi-4-mini-instruct'], v: 200064, h: 3072, i: 8192, l: 32, heads: 24, kv: 8, tied: true, maxPos: 131072 }),
  E({ family: 'phi3', modelType: 'phi3', ids: ['microsoft/phi-4'], instruct: ['microsoft/phi-4'], v: 100352, h: 5120, i: 17920, l: 40, heads: 40, kv: 10, tied: false, maxPos: 16384 }),
  // DeepSeek Coder (Llama architecture, 32,256 vocabulary, 16k positions with linear RoPE scaling ×4):
  // huggingface.co/deepseek-ai/deepseek-coder-1.3b-base and deepseek-coder-6.7b-base, config.json.
  llama({ ids: ['deepseek-ai/deepseek-coder-1.3b-base'], instruct: ['deepseek-ai/deepseek-coder-1.3b-instruct'], v: 32256, h: 2048, i: 5504, l: 24, heads: 16, kv: 16, tied: false, maxPos: 16384 }),
  llama({ ids: ['deepseek-ai/deepseek-coder-6.7b-base'], instruct: ['deepseek-ai/deepseek-coder-6.7b-instruct'], v: 32256, h: 4096, i: 11008, l: 32, heads: 32, kv: 32, tied: false, maxPos: 16384 }),
  // Yi (Llama architecture, 64k vocabulary, 4k positions): huggingface.co/01-ai/Yi-6B and Yi-34B, config.json.
  llama({ ids: ['01-ai/Yi-6B'], instruct: ['01-ai/Yi-6B-Chat'], v: 64000, h: 4096, i: 11008, l: 32, heads: 32, kv: 4, tied: false, maxPos: 4096 }),
  llama({ ids: ['01-ai/Yi-34B'], instruct: ['01-ai/Yi-34B-Chat'], v: 64000, h: 7168, i: 20480, l: 60, heads: 56, kv: 8, tied: false, maxPos: 4096 }),
  // Gemma 1 (2 norms per layer, head_dim 256, tied): huggingface.co/google/gemma-2b and gemma-7b, config.json.
  E({ family: 'gemma', modelType: 'gemma', ids: ['google/gemma-2b'], instruct: ['google/gemma-2b-it'], v: 256000, h: 2048, i: 16384, l: 18, heads: 8, kv: 1, hd: 256, tied: true, maxPos: 8192 }),
  E({ family: 'gemma', modelType: 'gemma', ids: ['google/gemma-7b'], instruct: ['google/gemma-7b-it'], v: 256000, h: 3072, i: 24576, l: 28, heads: 16, kv: 16, hd: 256, tied: true, maxPos: 8192 }),
  // SmolLM (v1): the SmolLM2 shapes with 2,048 positions (huggingface.co/HuggingFaceTB/SmolLM-135M, -360M, -1.7B, config.json).
  llama({ ids: ['HuggingFaceTB/SmolLM-135M'], instruct: ['HuggingFaceTB/SmolLM-135M-Instruct'], v: 49152, h: 576, i: 1536, l: 30, heads: 9, kv: 3, tied: true, maxPos: 2048 }),
  llama({ ids: ['HuggingFaceTB/SmolLM-360M'], instruct: ['HuggingFaceTB/SmolLM-360M-Instruct'], v: 49152, h: 960, i: 2560, l: 32, heads: 15, kv: 5, tied: true, maxPos: 2048 }),
  llama({ ids: ['HuggingFaceTB/SmolLM-1.7B'], instruct: ['HuggingFaceTB/SmolLM-1.7B-Instruct'], v: 49152, h: 2048, i: 8192, l: 24, heads: 32, kv: 32, tied: true, maxPos: 2048 }),
  // SmolLM2 (Llama architecture, tied)
  llama({ ids: ['HuggingFaceTB/SmolLM2-135M'], instruct: ['HuggingFaceTB/SmolLM2-135M-Instruct'], v: 49152, h: 576, i: 1536, l: 30, heads: 9, kv: 3, tied: true, maxPos: 8192 }),
  llama({ ids: ['HuggingFaceTB/SmolLM2-360M'], instruct: ['HuggingFaceTB/SmolLM2-360M-Instruct'], v: 49152, h: 960, i: 2560, l: 32, heads: 15, kv: 5, tied: true, maxPos: 8192 }),
  llama({ ids: ['HuggingFaceTB/SmolLM2-1.7B'], instruct: ['HuggingFaceTB/SmolLM2-1.7B-Instruct'], v: 49152, h: 2048, i: 8192, l: 24, heads: 32, kv: 32, tied: true, maxPos: 8192 }),
];

function toSpec(e: Entry, id: string, chatTemplate: boolean): ModelSpec {
  const gemma = e.family === 'gemma2' || e.family === 'gemma3';
  return {
    id,
    modelType: e.modelType,
    family: e.family,
    vocabSize: e.v,
    hiddenSize: e.h,
    intermediateSize: e.i,
    numLayers: e.l,
    numHeads: e.heads,
    numKvHeads: e.kv,
    headDim: e.hd ?? e.h / e.heads,
    tiedEmbeddings: e.tied,
    maxPositionEmbeddings: e.maxPos,
    numExperts: e.experts?.[0] ?? 0,
    numExpertsPerToken: e.experts?.[1] ?? 0,
    attentionBias: e.bias ?? false,
    qkNorm: e.family === 'qwen3' || e.family === 'gemma3',
    normsPerLayer: gemma ? 4 : 2,
    fusedProjections: e.family === 'phi3',
    torchDtype: e.dtype ?? 'bfloat16',
    chatTemplate,
  };
}

const BY_ID = new Map<string, ModelSpec>();
for (const e of ENTRIES) {
  for (const id of new Set([...e.ids, ...e.instruct])) {
    BY_ID.set(id.toLowerCase(), toSpec(e, id, e.instruct.includes(id)));
  }
}

/** A catalog model by Hugging Face id (case-insensitive), or undefined. */
export function catalogModel(id: string): ModelSpec | undefined {
  return BY_ID.get(id.trim().toLowerCase());
}

/** Every id the catalog knows (canonical ids and aliases), for completion and "did you mean". */
export function catalogIds(): string[] {
  return [...BY_ID.values()].map((s) => s.id);
}
