// The per-file GPU of another tool's config (issue 27: "a GPU that is known in every dialect"): a
// `# lora-lens: gpu=...` comment among the leading comment lines, which the tool ignores. The reader alone, then over a
// real language-server connection: the hover and the status item's estimate use that GPU in axolotl and LLaMA-Factory
// files, a config's own hardware.gpu wins, a name that is no GPU is said at the value with the catalog's spelling.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Diagnostic, Hover } from 'vscode-languageserver-types';
import { gpuModeline } from '../../server/src/core/analysis/gpuModeline';
import { EstimateRequestMethod, type EstimateResult } from '../../server/src/protocol/requests';
import { LspTestClient } from '../helpers/lspClient';
import { REPO } from '../helpers/cli';

const valueOf = (text: string) => {
  const found = gpuModeline(text);
  if (!found) return undefined;
  const line = text.split('\n')[found.range.start.line]!;
  assert.equal(
    line.slice(found.range.start.character, found.range.end.character),
    found.value,
    'the range is the value',
  );
  return found.value;
};

test('the modeline reader: names with spaces, sizes, other pairs on the line, only the leading comments', () => {
  assert.equal(valueOf('# lora-lens: gpu=H100 80GB\nbase_model: x\n'), 'H100 80GB');
  assert.equal(valueOf('# lora-lens: gpu=24GiB axolotl=0.16\n'), '24GiB');
  assert.equal(valueOf('# my run\n#lora-lens: axolotl=0.16 gpu = RTX 4090 , other=1\n'), 'RTX 4090');
  assert.equal(valueOf('# lora-lens: dialect=trl\n# lora-lens: gpu=A100 80GB  \nmodel_name_or_path: x\n'), 'A100 80GB');
  assert.equal(
    valueOf('base_model: x\n# lora-lens: gpu=H100 80GB\n'),
    undefined,
    'after the first key: not a modeline',
  );
  assert.equal(valueOf('# lora-lens: dialect=axolotl\n'), undefined);
  assert.equal(valueOf('# lora-lens: gpus=H100\n'), undefined, 'only the gpu key');
});

let client: LspTestClient;
let dir: string;
before(async () => {
  client = new LspTestClient({ LORA_LENS_DEBOUNCE_MS: '20', LORA_LENS_NO_GPU_DETECT: '1' });
  await client.initialize(pathToFileURL(REPO).href);
  dir = mkdtempSync(join(tmpdir(), 'gpu-modeline-'));
  for (const name of ['data.jsonl', 'chat.jsonl', 'dataset_info.json'])
    copyFileSync(join(REPO, 'test/fixtures/tools/configs', name), join(dir, name));
});
after(async () => client.dispose());

const AXOLOTL = readFileSync(join(REPO, 'test/fixtures/tools/configs/axolotl-lora.yaml'), 'utf8');
const LLAMA_FACTORY = readFileSync(join(REPO, 'test/fixtures/tools/configs/llamafactory-lora.yaml'), 'utf8');

async function opened(name: string, text: string): Promise<{ uri: string; diagnostics: Diagnostic[] }> {
  const uri = pathToFileURL(join(dir, name)).href;
  const published = client.diagnostics(uri, 1);
  await client.open(uri, text, 'yaml', 1);
  return { uri, diagnostics: (await published).diagnostics };
}

/** The estimate's hover, on the model id (the value of the model key on `line`). */
async function hoverOn(uri: string, line: number): Promise<string> {
  const hover = (await client.connection.sendRequest('textDocument/hover', {
    textDocument: { uri },
    position: { line, character: 25 },
  })) as Hover;
  return (hover.contents as { value: string }).value;
}

const estimateOf = (uri: string) =>
  client.connection.sendRequest(EstimateRequestMethod, { uri }) as Promise<EstimateResult>;

test('over the connection: an axolotl file without the line knows no GPU and says how to set it; with it, the hover and the status estimate use it', async () => {
  const without = await opened('plain.yml', AXOLOTL);
  const advice = await hoverOn(without.uri, 0);
  assert.match(
    advice,
    /no GPU detected: add `# lora-lens: gpu=RTX 4090` .* at the top of this file, or set the `loraLens\.gpu` setting/,
  );
  assert.equal((await estimateOf(without.uri))?.fits ?? null, null);

  const withLine = await opened('h100.yml', `# lora-lens: gpu=H100 80GB\n${AXOLOTL}`);
  assert.deepEqual(
    withLine.diagnostics.filter((d) => d.range.start.line === 0),
    [],
    'the line itself draws no diagnostic',
  );
  assert.match((await hoverOn(withLine.uri, 1)).split('\n')[0]!, /^\*\*(Fits|Tight fit on) H100 80GB/);
  const estimate = await estimateOf(withLine.uri);
  assert.equal(estimate?.fits, true);
  assert.equal(estimate?.gpuName, 'H100 80GB', "the status item's label names it");
});

test('over the connection: a LLaMA-Factory file takes a memory size; a name that is no GPU is a warning at the value with the near name', async () => {
  const sized = await opened('lf-sized.yaml', `# lora-lens: gpu=6GiB\n${LLAMA_FACTORY}`);
  assert.match((await hoverOn(sized.uri, 1)).split('\n')[0]!, /6GiB GPU/);
  assert.equal((await estimateOf(sized.uri))?.gpuName, '6GiB GPU');

  const typo = await opened('lf-typo.yaml', `# lora-lens: gpu=H10 80GB\n${LLAMA_FACTORY}`);
  const atLine = typo.diagnostics.filter((d) => d.range.start.line === 0);
  assert.equal(atLine.length, 1, JSON.stringify(typo.diagnostics));
  assert.equal(atLine[0]!.code, 'gpu-unknown');
  assert.equal(atLine[0]!.severity, 2);
  assert.deepEqual([atLine[0]!.range.start.character, atLine[0]!.range.end.character], [17, 25]);
  assert.match(String(atLine[0]!.message), /`# lora-lens: gpu=H10 80GB`: .*Did you mean "H100 80GB"\?/);
  assert.equal((await estimateOf(typo.uri))?.fits ?? null, null, 'no GPU is guessed from a name that is none');
});

test("over the connection: our own dialect's hardware.gpu wins over the line", async () => {
  const example = readFileSync(join(REPO, 'examples/qwen2.5-0.5b-full.finetune.yaml'), 'utf8').replace(
    /^(\s*gpu:).*$/m,
    '$1 RTX 4090',
  );
  const ours = await opened('ours.finetune.yaml', `# lora-lens: gpu=H100 80GB\n${example}`);
  assert.equal((await estimateOf(ours.uri))?.gpuName, 'RTX 4090');
  assert.ok(ours.diagnostics.every((d) => d.range.start.line !== 0));
});
