import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statusBarContent } from '../../extension/src/statusText';
import { claimedDialect } from '../../server/src/core/analysis/claim';
import type { EstimateResult } from '../../server/src/protocol/requests';

const estimate = (fits: boolean | null): EstimateResult => ({
  label: '≈ 8.8 GiB · fits RTX 4090 · 15.1 GiB free',
  markdown: '',
  peakBytes: 8.8 * 2 ** 30,
  reservedBytesMax: 10 * 2 ** 30,
  fits,
  gpuName: 'RTX 4090',
  gpuMemoryBytes: 24 * 2 ** 30,
});

test('the status bar does not repeat the inlay hint: a verdict icon and word and the error count, no figures', () => {
  for (const [fits, errors] of [
    [true, 0],
    [false, 0],
    [true, 2],
    [null, 1],
  ] as const) {
    const { text, accessibilityInformation } = statusBarContent(estimate(fits), errors);
    assert.doesNotMatch(text, /GiB|RTX|\d+\.\d/, text);
    assert.match(text, fits === false || errors ? /^\$\(error\) LoRA Lens/ : /^\$\(check\) LoRA Lens · fits$/);
    if (fits !== null) assert.match(text, fits ? / · fits( ·|$)/ : / · does not fit( ·|$)/);
    if (errors) assert.match(text, new RegExp(`· ${errors} errors?$`));
    if (fits !== null)
      assert.match(
        accessibilityInformation.label,
        fits ? /fits RTX 4090/ : /does not fit RTX 4090/,
        'the verdict is read out',
      );
  }
  assert.equal(statusBarContent(null, 0).text, '$(check) LoRA Lens');
});

test("the status item names the dialect of another tool's file (issue 27 item 11), and the extension detects it as the server does", () => {
  assert.equal(statusBarContent(estimate(true), 0, 'axolotl').text, '$(check) LoRA Lens · axolotl · fits');
  assert.equal(
    statusBarContent(estimate(false), 1, 'LLaMA-Factory').text,
    '$(error) LoRA Lens · LLaMA-Factory · does not fit · 1 error',
  );
  assert.match(
    statusBarContent(estimate(true), 0, 'axolotl').accessibilityInformation.label,
    /^LoRA Lens, axolotl config, fits RTX 4090$/,
  );
  const settings = { files: [], dialects: {} };
  assert.equal(
    claimedDialect(
      '/ws/config.yml',
      'base_model: Qwen/Qwen2.5-0.5B-Instruct\nadapter: lora\ndatasets:\n  - path: d.jsonl\n    type: alpaca\n',
      settings,
      'config.yml',
    ),
    'axolotl',
  );
  assert.equal(
    claimedDialect(
      '/ws/a.finetune.yaml',
      'model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\n',
      settings,
      'a.finetune.yaml',
    ),
    'lora-lens',
  );
  assert.equal(
    claimedDialect('/ws/docker-compose.yaml', 'services:\n  web: {image: x}\n', settings, 'docker-compose.yaml'),
    null,
  );
});
