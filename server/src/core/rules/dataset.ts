import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { FORMAT_SHAPE, layoutShape } from '../data/layout';
import { similarFileName } from '../data/similarFile';
import type { DatasetFacts } from '../data/types';
import { hubDatasetRefProblem, isDatasetReference } from '../dialects/normalize/datasetRef';
import { isHubDatasetRef } from '../plan/hubDataset';
import { valueAt } from '../dialects/normalize/sourceMap';
import type { Finding, Rule, RuleInput } from './types';
import { anchor, key, listLines, plural, setFix } from './util';
import { factsName } from './dataSafetyFindings';

export const dataset: Rule = {
  id: 'dataset',
  severity: 'warning',
  summary:
    'Data file missing (error), rows that do not parse or match `data.format`, duplicates, empty rows, HTML markup.',
  check(input) {
    const { doc, plan, fileExists = existsSync } = input;
    const findings: Finding[] = [];
    for (const [which, path, facts] of [
      ['train', plan.data.train, input.dataset],
      ['eval', plan.data.eval, input.evalDataset],
    ] as const) {
      if (!path) continue;
      const range = anchor(doc, ['data', which]);
      // A Hub or registry dataset (hf://datasets/…) is not a file: a malformed Hub reference is said; its rows are
      // described when the local Hugging Face cache holds them (data/hubCache.ts).
      if (isDatasetReference(path)) {
        const problem = isHubDatasetRef(path) ? hubDatasetRefProblem(path) : null;
        if (problem) findings.push({ range, severity: 'error', message: `${key(`data.${which}`)}: ${problem}.` });
        else if (facts?.path === path && facts.exists) findings.push(...describe(input, which, facts));
        continue;
      }
      const missing = facts?.path === path ? !facts.exists : !fileExists(path);
      if (missing) {
        findings.push(missingFile(input, which, path, range));
        continue;
      }
      if (facts && facts.path === path) findings.push(...describe(input, which, facts));
    }
    return findings;
  },
};

/**
 * The data path as the document spells it: our `data.<which>`, or the dialect's key that decides it (axolotl's
 * `datasets[0].path`); undefined where a key names no file (LLaMA-Factory's dataset names).
 */
function writtenPath({ doc, dialect }: RuleInput, which: 'train' | 'eval'): unknown {
  if (!dialect) return (doc.value as { data?: Record<string, unknown> } | undefined)?.data?.[which];
  const source = dialect.sources[`data.${which}`];
  return source?.docPath && source.transform === 'file' ? valueAt(doc.value, source.docPath) : undefined;
}

/**
 * A data file that does not exist, with a did-you-mean when a file of a close name is in that folder; where the
 * written path is a key's own value (ours, axolotl's `datasets[0].path`) a fix writes that name in place of the wrong one.
 */
function missingFile(input: RuleInput, which: 'train' | 'eval', path: string, range: Finding['range']): Finding {
  const similar = similarFileName(path);
  const message = `${key(`data.${which}`)}: ${path} does not exist.${similar ? ` Did you mean ${similar}? It is in the same folder.` : ''}`;
  const written = writtenPath(input, which);
  // LLaMA-Factory's `dataset` is a name: the path is its entry's file_name in dataset_info.json, another file.
  const where =
    input.dialect?.id === 'llama-factory'
      ? " The path is the `file_name` of this dataset's entry in dataset_info.json: correct it there."
      : '';
  const name = basename(path);
  const fixes =
    similar && typeof written === 'string' && written.endsWith(name)
      ? [setFix(['data', which], written.slice(0, written.length - name.length) + similar)]
      : undefined;
  return {
    range,
    severity: 'error',
    message: message + where,
    data: { path, ...(similar ? { similar } : {}) },
    ...(fixes ? { fixes } : {}),
  };
}

function describe({ doc, plan }: RuleInput, which: 'train' | 'eval', facts: DatasetFacts): Finding[] {
  const range = anchor(doc, ['data', which]);
  // A Hub dataset is named by its id and the cached file whose rows were read (its row refs are that file's).
  const file = factsName(facts);
  if (facts.skipped) return [{ range, severity: 'info', message: `${file} was not inspected: ${facts.skipped}.` }];
  const where = (lines: DatasetFacts['empty']) => {
    const refs = lines.first.map((ref) => ref.line ?? (ref.index !== undefined ? ref.index + 1 : undefined));
    const noun = facts.kind === 'json' ? 'record' : facts.kind === 'parquet' ? 'row' : 'line';
    return `${lines.count === 1 ? noun : `${noun}s`} ${listLines(refs, lines.count)}`;
  };
  const scope = facts.estimated ? ` in the first ${plural(facts.scannedRows, 'row')} read` : '';
  const findings: Finding[] = [];
  // What was only partly inspected and why (a Parquet refusal, a footer its pages contradict): the editor and
  // `check` read it here, from the one analysis.
  if (facts.note) findings.push({ range, severity: 'info', message: `${file}: ${facts.note}.` });
  if (facts.unparsable.count > 0) {
    findings.push({
      range,
      severity: 'error',
      message: `${plural(facts.unparsable.count, 'row')} of ${file}${scope} ${facts.unparsable.count === 1 ? 'is' : 'are'} not valid ${facts.kind === 'csv' ? 'CSV' : 'JSON'} (${where(facts.unparsable)}): the loader stops at the first one. Fix or remove them.`,
      data: { count: facts.unparsable.count },
    });
  }
  if (facts.mismatched.count > 0) {
    const reason = facts.mismatched.first[0]?.reason;
    // A dialect's dataset is read as its tool reads it (the layout names the tool's setting); ours by data.format.
    const expected =
      facts.layout && facts.layout.kind !== 'format' && facts.layout.kind !== 'unchecked'
        ? `${facts.layout.label} ${layoutShape(facts.layout)}`
        : `${key('data.format')} ${plan.data.format} ${FORMAT_SHAPE[plan.data.format]}`;
    findings.push({
      range,
      severity: 'error',
      message: `${plural(facts.mismatched.count, 'row')} of ${file}${scope} ${facts.mismatched.count === 1 ? 'does' : 'do'} not match ${expected} (${where(facts.mismatched)}${reason ? `: ${reason}` : ''}). They fail to load or train on the wrong text.`,
      data: { count: facts.mismatched.count },
    });
  }
  if (facts.duplicates.count > 0 && !plan.data.dedupe) {
    findings.push({
      range,
      message: `${plural(facts.duplicates.count, 'row')} of ${file}${scope} ${facts.duplicates.count === 1 ? 'repeats' : 'repeat'} an earlier row exactly (${where(facts.duplicates)}): duplicates are seen several times per epoch and get memorised${which === 'eval' ? '' : ', and copies shared with the eval set inflate its score'}. Set ${key('data.dedupe')}: true.`,
      fixes: [setFix(['data', 'dedupe'], true)],
      data: { count: facts.duplicates.count },
    });
  }
  if (facts.empty.count > 0) {
    findings.push({
      range,
      message: `${plural(facts.empty.count, 'row')} of ${file}${scope} ${facts.empty.count === 1 ? 'is' : 'are'} empty (${where(facts.empty)}): they waste steps on padding or fail to load. Remove them.`,
      data: { count: facts.empty.count },
    });
  }
  if (facts.html.count > 0 && !plan.data.strip_html) {
    findings.push({
      range,
      message: `${plural(facts.html.count, 'row')} of ${file}${scope} contain HTML markup (${where(facts.html)}): the model learns to emit tags. Set ${key('data.strip_html')}: true, unless HTML is what it should write.`,
      fixes: [setFix(['data', 'strip_html'], true)],
      data: { count: facts.html.count },
    });
  }
  return findings;
}
