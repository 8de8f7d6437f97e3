import { gpuFromSetting } from '../gpu';
import { closestGpuName } from '../gpu/catalog';
import type { Rule } from './types';
import { fix, key, placeAt, set } from './util';

/** `hardware.gpu` naming no catalog GPU and no memory size; the estimate falls back to the detected GPU. */
export const gpuUnknown: Rule = {
  id: 'gpu-unknown',
  severity: 'error',
  summary: '`hardware.gpu` names no known GPU and is not a memory size such as `24GiB`.',
  check({ doc, plan }) {
    const setting = plan.hardware.gpu.trim();
    if (setting === '' || setting.toLowerCase() === 'auto') return [];
    const lookup = gpuFromSetting(setting);
    if (lookup.ok) return [];
    const path = ['hardware', 'gpu'];
    return [
      {
        range: placeAt(doc, path),
        message: `${key('hardware.gpu')}: ${lookup.message}.`,
        fixes: [...nearFix(setting), fix('Detect the GPU (auto)', [set(path, 'auto')])],
        data: { path },
      },
    ];
  },
};

/** The catalog's spelling of the card a misspelt name most likely means, as the preferred fix (none when unsure). */
function nearFix(setting: string) {
  const near = closestGpuName(setting);
  return near ? [fix(`Change to "${near}"`, [set(['hardware', 'gpu'], near)], true)] : [];
}
