import type { LengthStats } from '../data/types';
import type { Finding, Rule } from './types';
import { anchor, has, key, leaf, setFix, show } from './util';

const MAX_LENGTH = leaf('data.max_length');

/** Share of rows longer than `limit` tokens, from the sorted length sample. */
export function shareAbove(lengths: LengthStats, limit: number): number {
  const sample = lengths.sample;
  if (sample.length === 0) return 0;
  let low = 0;
  let high = sample.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (sample[mid]! <= limit) low = mid + 1;
    else high = mid;
  }
  return (sample.length - low) / sample.length;
}

/** A max_length that covers 99% of the rows: the next power of two, at least 256, at most the model's limit. */
function covering(lengths: LengthStats, cap: number): number {
  let length = 256;
  while (length < lengths.p99) length *= 2;
  return cap > 0 ? Math.min(length, cap) : length;
}

export const maxLength: Rule = {
  id: 'max-length',
  severity: 'warning',
  summary:
    "`max_length` absent, above the model's context (error), truncating many rows, or a long tail without `group_by_length`.",
  check({ doc, plan, model, dataset }) {
    const path = ['data', 'max_length'];
    const limit = plan.data.max_length;
    const maxPositions = model?.ok ? model.spec.maxPositionEmbeddings : 0;
    const lengths = dataset?.exists && !dataset.skipped ? dataset.lengths : null;
    const kind = lengths?.exact ? 'tokenizer-counted' : 'estimated';
    const findings: Finding[] = [];
    if (!has(doc, path)) {
      const proposal = lengths ? covering(lengths, maxPositions) : limit;
      findings.push({
        range: anchor(doc, path, ['data']),
        severity: 'info',
        message: `${key('data.max_length')} is not set: rows are cut at ${limit} tokens.${lengths ? ` 99% of the rows here are within ${lengths.p99} tokens (${kind}).` : ''} Write the length your data needs, so memory estimates and truncation are explicit.`,
        fixes: [setFix(path, proposal)],
      });
    }
    if (maxPositions > 0 && limit > maxPositions) {
      findings.push({
        range: anchor(doc, path, ['data']),
        severity: 'error',
        message: `${MAX_LENGTH} ${limit} is above ${model!.ok ? model!.spec.id : 'the model'}'s max_position_embeddings (${maxPositions}): positions past it were never trained, so quality collapses on long rows (or training fails). Use ${maxPositions} at most.`,
        fixes: [setFix(path, lengths ? covering(lengths, maxPositions) : maxPositions)],
        data: { maxLength: limit, maxPositions },
      });
      return findings;
    }
    if (!lengths) return findings;
    const share = shareAbove(lengths, limit);
    if (share >= 0.01) {
      const proposal = covering(lengths, maxPositions);
      findings.push({
        range: anchor(doc, path, ['data']),
        severity: share >= 0.05 ? 'warning' : 'info',
        message: `${percent(share)} of the rows are longer than ${MAX_LENGTH} ${limit} and will be truncated (${kind} lengths: median ${lengths.p50}, 99th percentile ${lengths.p99}, longest ${lengths.max}): the model never sees their ends, often the answer. ${proposal > limit ? `Raise ${MAX_LENGTH} to ${proposal}, or shorten those rows.` : 'Shorten those rows.'}`,
        fixes: proposal > limit ? [setFix(path, proposal)] : [],
        data: { share, maxLength: limit, p99: lengths.p99 },
      });
    }
    if (!plan.data.group_by_length && !plan.data.packing && lengths.p50 > 0 && lengths.p99 / lengths.p50 >= 4) {
      findings.push({
        range: anchor(doc, ['data', 'group_by_length'], ['data']),
        severity: 'info',
        message: `Row lengths have a long tail (median ${lengths.p50}, 99th percentile ${lengths.p99} tokens, ${kind}): batches mix short and long rows, so most of each batch is padding. Set ${leaf('data.group_by_length')}: true to batch similar lengths together.`,
        fixes: [setFix(['data', 'group_by_length'], true)],
        data: { p50: lengths.p50, p99: lengths.p99 },
      });
    }
    return findings;
  },
};

function percent(share: number): string {
  return `${show(Math.round(share * 1000) / 10)}%`;
}
