import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statusBarContent } from '../../extension/src/statusText';
import type { EstimateResult } from '../../server/src/protocol/requests';

const estimate = (fits: boolean | null): EstimateResult => ({
  label: '≈ 8.8 GiB · fits RTX 4090 · 15.1 GiB free', markdown: '', peakBytes: 8.8 * 2 ** 30, reservedBytesMax: 10 * 2 ** 30,
  fits, gpuName: 'RTX 4090', gpuMemoryBytes: 24 * 2 ** 30,
});

test('the status bar does not repeat the inlay hint: a verdict icon and the error count, no figures', () => {
  for (const [fits, errors] of [[true, 0], [false, 0], [true, 2], [null, 1]] as const) {
    const { text, accessibilityInformation } = statusBarContent(estimate(fits), errors);
    assert.doesNotMatch(text, /GiB|RTX|\d+\.\d/, text);
    assert.match(text, fits === false || errors ? /^\$\(error\) LoRA Lens/ : /^\$\(check\) LoRA Lens$/);
    if (errors) assert.match(text, new RegExp(`· ${errors} errors?$`));
    if (fits !== null) assert.match(accessibilityInformation.label, fits ? /fits RTX 4090/ : /does not fit RTX 4090/, 'the verdict is read out');
  }
  assert.equal(statusBarContent(null, 0).text, '$(check) LoRA Lens');
});
