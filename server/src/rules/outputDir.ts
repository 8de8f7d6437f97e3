import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { Rule } from './types';
import { anchor, setFix } from './util';

/** Files a finished run leaves in its output folder: an adapter, a full model, or the trainer's final state. */
const FINISHED = ['adapter_model.safetensors', 'adapter_model.bin', 'model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'trainer_state.json'];

export const outputDir: Rule = {
  id: 'output-dir',
  severity: 'warning',
  summary: '`output.dir` already holds a finished run that this run would overwrite.',
  check({ doc, plan, configPath, fileExists = existsSync }) {
    const dir = plan.output.dir;
    const marker = FINISHED.find((name) => fileExists(join(dir, name)));
    if (!marker) return [];
    const written = (doc.value as { output?: { dir?: unknown } } | undefined)?.output?.dir;
    const base = typeof written === 'string' ? written.replace(/[\\/]+$/, '') : relative(configPath ? dirname(configPath) : process.cwd(), dir);
    let n = 2;
    while (fileExists(`${dir}-${n}`) && n < 1000) n++;
    return [{
      range: anchor(doc, ['output', 'dir'], ['model']),
      message: `output.dir ${dir} already holds a finished run (${marker}): this run would overwrite its adapter and checkpoints. Use a new folder.`,
      fixes: [setFix(['output', 'dir'], `${base}-${n}`)],
      data: { dir, marker },
    }];
  },
};
