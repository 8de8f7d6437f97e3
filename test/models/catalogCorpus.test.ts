/**
 * The catalog entries added for the base models the axolotl and LLaMA-Factory example configs name: each
 * architecture's parameter count (derived from its config.json figures) equals the count its weights publish, and
 * mirrors resolve to the architecture they copy.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { catalogModel } from '../../server/src/core/models/catalog';
import { countParameters } from '../../server/src/core/models/params';

const PUBLISHED: Array<[string, number]> = [
  ['mistralai/Mistral-7B-v0.1', 7_241_732_096],
  ['codellama/CodeLlama-7b-hf', 6_738_546_688],
  ['codellama/CodeLlama-13b-hf', 13_016_028_160],
  ['codellama/CodeLlama-34b-hf', 33_743_970_304],
  ['TinyLlama/TinyLlama_v1.1', 1_100_048_384],
  ['openlm-research/open_llama_3b_v2', 3_426_473_600],
  ['Qwen/Qwen3-4B-Instruct-2507', 4_022_468_096],
];

test('new catalog architectures count the parameters their checkpoints publish', () => {
  for (const [id, total] of PUBLISHED) assert.equal(countParameters(catalogModel(id)!).total, total, id);
});

test('mirrors and re-uploads resolve to the architecture they copy', () => {
  const pairs: Array<[string, string]> = [
    ['NousResearch/Llama-3.2-1B', 'meta-llama/Llama-3.2-1B'],
    ['NousResearch/Llama-2-7b-hf', 'meta-llama/Llama-2-7b-hf'],
    ['NousResearch/Meta-Llama-3.1-8B', 'meta-llama/Llama-3.1-8B'],
    ['NousResearch/Meta-Llama-3-8B', 'meta-llama/Meta-Llama-3-8B'],
    ['neuralmagic/Sparse-Llama-3.1-8B-2of4', 'meta-llama/Llama-3.1-8B'],
    ['casperhansen/llama-3-70b-fp16', 'meta-llama/Meta-Llama-3-70B'],
  ];
  for (const [mirror, original] of pairs) {
    const { id: _a, ...a } = catalogModel(mirror)!;
    const { id: _b, ...b } = catalogModel(original)!;
    assert.deepEqual(a, b, mirror);
  }
  assert.equal(catalogModel('Qwen/Qwen3-4B-Instruct-2507')!.chatTemplate, true);
  assert.equal(catalogModel('Qwen/Qwen3-4B-Instruct-2507')!.maxPositionEmbeddings, 262144);
});
