import type { EstimateResult } from '../../server/src/protocol/requests';

/** The context key that is true while the active editor holds a config LoRA Lens claims (any dialect): package.json's menus read it. */
export const CLAIMED_CONTEXT = 'loraLens.claimed';

/**
 * The status bar item's text and accessibility label: the verdict (an icon and a word), the dialect the file is read
 * as when it is another tool's (`axolotl`), the error count; no figures (the inlay hint on the model line carries
 * them, the tooltip the breakdown). The label reads the verdict out with the GPU.
 */
export function statusBarContent(
  estimate: EstimateResult,
  errors: number,
  toolDialect?: string | null,
): { text: string; accessibilityInformation: { label: string } } {
  const verdict = estimate?.fits === false ? 'does not fit' : estimate?.fits ? 'fits' : '';
  const icon = errors || estimate?.fits === false ? '$(error)' : '$(check)';
  const errorText = errors ? `${errors} error${errors > 1 ? 's' : ''}` : '';
  const text = [`${icon} LoRA Lens`, toolDialect, verdict, errorText].filter(Boolean).join(' · ');
  const label = [
    'LoRA Lens',
    toolDialect && `${toolDialect} config`,
    verdict && `${verdict}${estimate?.gpuName ? ` ${estimate.gpuName}` : ''}`,
    errorText,
  ]
    .filter(Boolean)
    .join(', ');
  return { text, accessibilityInformation: { label } };
}
