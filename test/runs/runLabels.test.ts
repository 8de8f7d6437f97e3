// Telling runs apart (issue 27 item 8): the Runs view's labels, Compare's legends and table, the one Output
// channel's line prefix and the status bar's progress text, all pure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runItemTexts, type RunInfo } from '../../extension/src/runs/runFolder';
import {
  differingKeys,
  logPrefix,
  prefixedLines,
  settingsDiffTable,
  shortLegends,
} from '../../extension/src/runs/runLabels';
import { runProgressContent } from '../../extension/src/runs/progressText';
import type { KeySettings } from '../../extension/src/runs/panelProtocol';

function run(
  id: string,
  configPath: string | null,
  startedAt: string,
  settings: KeySettings,
  extra: Partial<RunInfo> = {},
): RunInfo {
  return {
    id,
    dir: `/ws/runs/${id}`,
    configPath,
    startedAt: new Date(startedAt),
    status: 'completed',
    step: 80,
    totalSteps: 80,
    loss: 1.0841,
    finalLoss: 1.0841,
    settings,
    tool: null,
    errorKind: null,
    ...extra,
  } as unknown as RunInfo;
}

const lora = {
  method: 'lora',
  model: 'Qwen/Qwen2.5-0.5B-Instruct',
  rank: 16,
  alpha: 32,
  learningRate: 2e-4,
  effectiveBatch: 8,
  maxLength: 1024,
};

test('runs of one config are told apart in the Runs view by the settings that differ; other configs keep name and time', () => {
  const runs = [
    run('qwen-20251123-090507-8000', '/ws/qwen.finetune.yaml', '2025-11-23T09:05:07Z', lora),
    run('qwen-20251123-101500-a1b2', '/ws/qwen.finetune.yaml', '2025-11-23T10:15:00Z', {
      ...lora,
      rank: 64,
      alpha: 128,
    }),
    run('llama-20251124-080000-c3d4', '/ws/llama.finetune.yaml', '2025-11-24T08:00:00Z', lora),
  ];
  const texts = runItemTexts(runs, 'UTC');
  assert.deepEqual(
    texts.map((t) => t.label),
    ['qwen · r=16 alpha=32 · Nov 23, 09:05', 'qwen · r=64 alpha=128 · Nov 23, 10:15', 'llama · Nov 24, 08:00'],
  );
  // The description keeps what fits the default sidebar width: status, steps, loss; the id is in the tooltip.
  assert.equal(texts[0]!.description, 'completed · 80/80 · loss 1.0841');
  assert.match(texts[0]!.tooltip, /run qwen-20251123-090507-8000/);
  assert.match(texts[1]!.tooltip, /differs from the other runs of this config: r=64 alpha=128/);
});

test('Compare legends: the setting that differs ("r=16" against "r=64"), the config name when configs differ, the time when nothing differs', () => {
  assert.deepEqual(
    shortLegends([
      { id: 'a', name: 'qwen', settings: lora },
      { id: 'b', name: 'qwen', settings: { ...lora, rank: 64 } },
    ]),
    ['r=16', 'r=64'],
  );
  assert.deepEqual(
    shortLegends([
      { id: 'a', name: 'qwen', settings: lora },
      { id: 'b', name: 'qwen', settings: { ...lora, method: 'qlora', learningRate: 1e-4 } },
    ]),
    ['lora lr=2e-4', 'qlora lr=1e-4'],
  );
  assert.deepEqual(
    shortLegends([
      { id: 'a', name: 'qwen', settings: lora },
      { id: 'b', name: 'llama', settings: lora },
    ]),
    ['qwen', 'llama'],
  );
  assert.deepEqual(
    shortLegends([
      { id: 'a', name: 'qwen', when: 'Nov 23, 09:05', settings: lora },
      { id: 'b', name: 'qwen', when: 'Nov 23, 10:15', settings: lora },
    ]),
    ['Nov 23, 09:05', 'Nov 23, 10:15'],
  );
  // Same settings, same minute: the id's end keeps them distinct.
  assert.deepEqual(
    shortLegends([
      { id: 'qwen-20251123-090507-8000', name: 'qwen', when: 'Nov 23, 09:05', settings: lora },
      { id: 'qwen-20251123-090532-a1b2', name: 'qwen', when: 'Nov 23, 09:05', settings: lora },
    ]),
    ['Nov 23, 09:05 #8000', 'Nov 23, 09:05 #a1b2'],
  );
});

test('the table of the settings that differ has a column per differing setting and a row per run', () => {
  const list = [lora, { ...lora, rank: 64, learningRate: 1e-4 }, { ...lora, rank: 8 }];
  assert.deepEqual(differingKeys(list), ['rank', 'learningRate']);
  assert.deepEqual(settingsDiffTable(list), {
    headers: ['r', 'lr'],
    rows: [
      ['16', '2e-4'],
      ['64', '1e-4'],
      ['8', '2e-4'],
    ],
  });
  assert.deepEqual(settingsDiffTable([lora, lora]), { headers: [], rows: [[], []] });
  assert.deepEqual(differingKeys([lora, { ...lora, rank: undefined }]), ['rank']);
});

test('one Output channel for every run: each line led by the run it comes from', () => {
  assert.equal(logPrefix('qwen-small-20251123-090507-8000'), 'qwen-small 09:05:07');
  assert.equal(logPrefix('my-run'), 'my-run');
  assert.equal(
    prefixedLines('qwen 09:05:07', 'Traceback:\n  line 1\n'),
    '[qwen 09:05:07] Traceback:\n[qwen 09:05:07]   line 1',
  );
});

test('the status bar while a run trains: a spinner, step/total, loss; several runs add a count; none hides it', () => {
  assert.equal(runProgressContent([]), null);
  const starting = runProgressContent([
    { id: 'a', name: 'qwen', label: 'qwen 09:05:07', step: null, totalSteps: null, loss: null, etaS: null },
  ])!;
  assert.equal(starting.text, '$(sync~spin) qwen starting');
  const two = runProgressContent([
    { id: 'a', name: 'qwen', label: 'qwen 09:05:07', step: 120, totalSteps: 500, loss: 1.23456, etaS: 190 },
    { id: 'b', name: 'llama', label: 'llama 09:10:00', step: 3, totalSteps: 40, loss: 2.5, etaS: null },
  ])!;
  assert.equal(two.text, '$(sync~spin) qwen 120/500 (24%) · loss 1.2346 +1 more');
  assert.match(
    two.tooltip,
    /^qwen 09:05:07: 120\/500 \(24%\) · loss 1\.2346, ETA 3m 10s\nllama 09:10:00: 3\/40 \(7%\) · loss 2\.5000\n\nClick to open the run panel\.$/,
  );
  assert.match(two.label, /^LoRA Lens: training qwen 09:05:07/);
});
