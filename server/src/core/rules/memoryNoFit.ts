import { placeAt } from './util';
import { noFitDiagnostic } from '../estimate/memory';
import { fitSearchFor } from '../estimate/report';
import type { QuickFix } from '../edits/types';
import type { Rule } from './types';

/**
 * The memory estimate's verdict as a rule, so `# lora-lens-disable-next-line memory-no-fit` and the severity setting
 * apply to it like to any other. The fit search runs only when the estimate does not fit, once per estimate (the
 * estimate report shows the same one).
 */
export const memoryNoFit: Rule = {
  id: 'memory-no-fit',
  severity: 'error',
  summary: "The estimated peak exceeds the GPU's memory: the run would stop with CUDA out of memory.",
  check({ doc, plan, model, memory, dataset, dialect }) {
    if (!memory || memory.estimate.fits !== false || !model?.ok) return [];
    // The dialect names the keys of the one-GPU offload suggestion; the report asks with the same one.
    const search = fitSearchFor(memory.estimate, model.spec, plan, memory.options, dataset, { dialect: dialect?.id });
    const noFit = noFitDiagnostic(memory.estimate, plan, search.suggestions, search.makeItFit);
    if (!noFit) return [];
    const { fixes, ...rest } = noFit.data as { fixes?: QuickFix[] } & Record<string, unknown>;
    return [
      {
        range: placeAt(doc, noFit.path),
        severity: noFit.severity,
        message: noFit.message,
        fixes: fixes ?? [],
        data: rest,
      },
    ];
  },
};
