// Toasts (issue 27 item 10): never opening with an absolute path, and buttons only where they help.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toastText, workspaceRelative } from '../../extension/src/messageText';
import { findingActions } from '../../extension/src/runs/environment';

test('a toast names workspace files as the Explorer does, and never opens with an absolute path', () => {
  const roots = ['/home/ana/proj'];
  assert.equal(
    toastText(
      'cannot run /home/ana/proj/configs/a.finetune.yaml: line 3: method: lorra is not one of full, lora, qlora',
      roots,
    ),
    'LoRA Lens: cannot run configs/a.finetune.yaml: line 3: method: lorra is not one of full, lora, qlora',
  );
  // An interpreter inside the workspace reads relative; one outside leads with its name, the full path at the end.
  assert.equal(
    toastText('/home/ana/proj/.venv/bin/python lacks torch, which the trainer needs.', roots),
    'LoRA Lens: .venv/bin/python lacks torch, which the trainer needs.',
  );
  assert.equal(
    toastText('/usr/bin/python3 lacks torch, which the trainer needs.', roots),
    'LoRA Lens: python3 lacks torch, which the trainer needs. (/usr/bin/python3)',
  );
  assert.equal(toastText('LoRA Lens: run qwen-1 completed.', roots), 'LoRA Lens: run qwen-1 completed.');
  assert.equal(workspaceRelative('C:\\Users\\ana\\proj\\a.yaml and /x', ['C:\\Users\\ana\\proj']), 'a.yaml and /x');
  // A nested workspace folder wins over its parent.
  assert.equal(workspaceRelative('/w/a/b/c.yaml', ['/w/a', '/w/a/b']), 'c.yaml');
});

test('the no-NVIDIA-GPU warning offers no Select Interpreter; a missing package offers it with the install line', () => {
  assert.deepEqual(findingActions({ kind: 'no-nvidia-gpu' }), []);
  assert.deepEqual(findingActions({ kind: 'no-bf16' }), []);
  assert.deepEqual(findingActions({ kind: 'missing-packages', install: 'python3 -m pip install torch' }), [
    'Copy Install Command',
    'Select Interpreter',
  ]);
  assert.deepEqual(findingActions({ kind: 'no-cuda-torch' }), ['Select Interpreter']);
});
