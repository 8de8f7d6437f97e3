/** LoRA Lens's own dialect (../shared/CONFIG.md): how its files are recognised (light: no schema). */
import { isConfigFile } from '../../document/fileMatcher';
import type { DialectAbout } from '../dialect';

const METHODS = new Set(['full', 'lora', 'qlora']);

export const LORA_LENS: DialectAbout<'lora-lens'> = {
  id: 'lora-lens',
  displayName: 'LoRA Lens',
  signature: (sketch) => sketch.keys.has('model') && METHODS.has(sketch.keys.get('method') ?? ''),
  claimsFileName: (path, firstLine) => isConfigFile(path, firstLine, { files: [] }),
  scalars: 'yaml-1.2',
};
