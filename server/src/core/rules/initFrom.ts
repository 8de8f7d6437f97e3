import { dirname, relative, sep } from 'node:path';
import type { ConfigEdit, QuickFix } from '../edits/types';
import type { Finding, Rule, RuleInput } from './types';
import { completedRuns, initFromProblem, type InitFromProblem } from './initFromRun';
import { anchor, fix, key, set, setFix } from './util';

/**
 * `init_from` names a folder the trainer would refuse (trainer/lora_lens_trainer/init_from.py): missing, not a run,
 * a full fine-tuning run, a run on another base model, a run that did not complete, an adapter gone; and a QLoRA run
 * starting from one (a 4-bit base cannot take the merged update). Each says what to do; where completed runs of the
 * same model sit beside it (or under `output.dir`), the fixes name them.
 */
export const initFrom: Rule = {
  id: 'init-from',
  severity: 'error',
  summary:
    '`init_from` names no finished LoRA/QLoRA run of this model (missing, not a run, unfinished, full fine-tuning, another base), or the method is qlora.',
  check(input) {
    const run = input.plan.init_from;
    if (!run) return [];
    const findings: Finding[] = [];
    if (input.plan.method === 'qlora') findings.push(qloraFinding(input));
    const problem = initFromProblem(run, input.plan);
    if (problem) findings.push(folderFinding(input, run, problem));
    return findings;
  },
};

function qloraFinding({ doc }: RuleInput): Finding {
  return {
    range: anchor(doc, ['method']),
    message: `${key('init_from')} with ${key('method')} qlora: the base stays in 4 bits, where the merged adapter's update would be quantized away, so the trainer refuses it. Train with method lora (the merged model in bf16), or export that run merged (lora-lens export --format merged) and name the merged folder as ${key('model')}.`,
    fixes: [setFix(['method'], 'lora')],
    data: { problem: 'qlora' },
  };
}

/** The message and fixes of one problem; `shown` writes a path as the config would (relative to its folder). */
interface Said {
  message: string;
  fixes: QuickFix[];
}

function folderFinding(input: RuleInput, run: string, problem: InitFromProblem): Finding {
  const folder = input.configPath ? dirname(input.configPath) : process.cwd();
  const shown = (path: string) => (relative(folder, path) || '.').split(sep).join('/');
  const others = completedRuns(input.plan, run).map((dir) =>
    fix(`Set init_from: ${shown(dir)}`, [set(['init_from'], shown(dir))]),
  );
  const named = `${key('init_from')} ${shown(run)}`;
  const said = describe(input, problem, named, shown, others);
  return { range: anchor(input.doc, ['init_from']), ...said, data: { problem: problem.kind, run } };
}

function describe(
  input: RuleInput,
  problem: InitFromProblem,
  named: string,
  shown: (path: string) => string,
  others: QuickFix[],
): Said {
  const seeOthers = others.length > 0 ? ' The fixes name completed runs of this model beside it.' : '';
  switch (problem.kind) {
    case 'missing':
    case 'not-a-folder':
    case 'not-a-run': {
      const what = {
        missing: 'does not exist',
        'not-a-folder': 'is a file, not a run folder',
        'not-a-run': `is not a LoRA Lens run folder (${problem.kind === 'not-a-run' ? problem.why : ''})`,
      }[problem.kind];
      return {
        message: `${named} ${what}: name the folder of a finished run (<${key('output.dir')}>/<run-id>, as the Runs view shows it).${seeOthers}`,
        fixes: others,
      };
    }
    case 'full-run':
      return fullRun(input, named, problem.modelDir ? shown(problem.modelDir) : null);
    case 'other-base':
      return {
        message: `${named} trained an adapter for ${problem.base}, but this config's ${key('model')} is ${input.plan.model.name_or_path}: an adapter only fits the base it was trained on. Set ${key('model')} to that base, or name a run of this one.${seeOthers}`,
        fixes: [fix(`Set model: ${problem.base}`, [modelEdit(input, problem.base)]), ...others],
      };
    case 'unfinished': {
      const how = problem.status === null ? 'has no end event: still running, or killed' : `ended ${problem.status}`;
      return {
        message: `${named} did not complete (it ${how}), so it has no final adapter: finish it first (lora-lens resume ${shown(input.plan.init_from!)}) or name a completed run.${seeOthers}`,
        fixes: others,
      };
    }
    case 'no-adapter':
      return {
        message: `${named} completed, but its adapter (${shown(problem.adapter)}) has no adapter_model.safetensors: it was moved or deleted. Put it back, or name another completed run.${seeOthers}`,
        fixes: others,
      };
  }
}

/** A full fine-tuning run's result is a model: name it as `model` instead of merging it as an adapter. */
function fullRun(input: RuleInput, named: string, model: string | null): Said {
  const edits: ConfigEdit[] = model ? [modelEdit(input, model), { kind: 'remove', path: ['init_from'] }] : [];
  return {
    message: `${named} is a full fine-tuning run: its result is a whole model, not an adapter to merge. Set ${key('model')} to its saved model folder (${model ?? 'its model/ folder, once the run has completed'}) and remove ${key('init_from')}.`,
    fixes: model ? [fix(`Set model: ${model} and remove init_from`, edits, true)] : [],
  };
}

/** `model: <value>` for the string form, `model.name_or_path` for the object form. */
function modelEdit({ doc }: RuleInput, value: string): ConfigEdit {
  const model = (doc.value as { model?: unknown } | undefined)?.model;
  return model !== null && typeof model === 'object' ? set(['model', 'name_or_path'], value) : set(['model'], value);
}
