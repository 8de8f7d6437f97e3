import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Rule } from './types';
import { anchor, key, setFix } from './util';

/**
 * A run lives at `<output.dir>/<run-id>/` (server/src/runs/args.ts newRunDir), so a new run never overwrites an old
 * one: the overwrite this rule used to catch is gone. What remains is `output.dir` pointing at a run folder (or
 * inside one: say a run's path pasted from the Runs view): every new run would be created inside that old run, and
 * deleting it (Runs view → Delete, or removing its folder) deletes them with their checkpoints and adapters.
 */
function enclosingRun(dir: string, fileExists: (path: string) => boolean): string | null {
  for (let d = resolve(dir); ; d = dirname(d)) {
    if (fileExists(join(d, 'plan.json')) && fileExists(join(d, 'events.jsonl'))) return d;
    if (dirname(d) === d) return null;
  }
}

export const outputDir: Rule = {
  id: 'output-dir',
  severity: 'warning',
  summary: '`output.dir` is a run folder or inside one: new runs would nest in that run and be deleted with it.',
  check({ doc, plan, configPath, fileExists = existsSync }) {
    const run = enclosingRun(plan.output.dir, fileExists);
    if (!run) return [];
    const holder = dirname(run);
    const base = configPath ? dirname(configPath) : process.cwd();
    const suggested = (relative(base, holder) || '.').split(sep).join('/');
    return [
      {
        range: anchor(doc, ['output', 'dir'], ['model']),
        message:
          `${key('output.dir')} is ${run === resolve(plan.output.dir) ? 'the folder of a run' : 'inside the folder of a run'} (${run} holds plan.json and events.jsonl): ` +
          `each new run goes to <${key('output.dir')}>/<run-id>/, so it would be created inside that run and deleted along with it. Use the folder that holds the runs: ${suggested}.`,
        fixes: [setFix(['output', 'dir'], suggested)],
        data: { dir: plan.output.dir, run },
      },
    ];
  },
};
