import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ModelResolution } from '../models';

/** The tokenizer.json beside a resolved model's config.json (local directory or HF cache snapshot), if on disk. */
export function tokenizerPathFor(model: ModelResolution | undefined): string | null {
  if (!model?.ok || !model.configPath) return null;
  const path = join(dirname(model.configPath), 'tokenizer.json');
  return existsSync(path) ? path : null;
}
