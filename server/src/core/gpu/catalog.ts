/**
 * Common training GPUs: memory as nvidia-smi reports memory.total (MiB), bf16 support and compute capability.
 */
import type { GpuLookup, GpuSpec } from './types';

interface GpuEntry {
  name: string;
  keys: string[];
  mib: number;
  cc: string;
}

// keys: normalized spellings (lowercase, no spaces/dashes, no vendor prefixes) that name this card unambiguously.
const GPUS: GpuEntry[] = [
  { name: 'RTX 3060', keys: ['rtx3060', '3060'], mib: 12288, cc: '8.6' },
  { name: 'RTX 3080', keys: ['rtx3080', '3080'], mib: 10240, cc: '8.6' },
  { name: 'RTX 3090', keys: ['rtx3090', '3090'], mib: 24576, cc: '8.6' },
  { name: 'RTX 3090 Ti', keys: ['rtx3090ti', '3090ti'], mib: 24564, cc: '8.6' },
  { name: 'RTX 4070 Ti', keys: ['rtx4070ti', '4070ti'], mib: 12282, cc: '8.9' },
  { name: 'RTX 4080', keys: ['rtx4080', '4080'], mib: 16376, cc: '8.9' },
  { name: 'RTX 4090', keys: ['rtx4090', '4090'], mib: 24564, cc: '8.9' },
  { name: 'RTX 5090', keys: ['rtx5090', '5090'], mib: 32607, cc: '12.0' },
  { name: 'RTX A6000', keys: ['rtxa6000', 'a6000'], mib: 49140, cc: '8.6' },
  { name: 'RTX 6000 Ada', keys: ['rtx6000ada', '6000ada', 'rtx6000adageneration'], mib: 49140, cc: '8.9' },
  { name: 'A10', keys: ['a10'], mib: 23028, cc: '8.6' },
  { name: 'A10G', keys: ['a10g'], mib: 23028, cc: '8.6' },
  { name: 'L4', keys: ['l4'], mib: 23034, cc: '8.9' },
  { name: 'L40S', keys: ['l40s'], mib: 46068, cc: '8.9' },
  { name: 'T4', keys: ['t4'], mib: 15360, cc: '7.5' },
  { name: 'V100 16GB', keys: ['v10016gb', 'v100sxm216gb', 'v100pcie16gb'], mib: 16384, cc: '7.0' },
  { name: 'V100 32GB', keys: ['v10032gb', 'v100sxm232gb', 'v100pcie32gb'], mib: 32768, cc: '7.0' },
  { name: 'A100 40GB', keys: ['a10040gb', 'a100sxm440gb', 'a100pcie40gb'], mib: 40960, cc: '8.0' },
  { name: 'A100 80GB', keys: ['a10080gb', 'a100sxm480gb', 'a100pcie80gb'], mib: 81920, cc: '8.0' },
  {
    name: 'H100 80GB',
    keys: ['h10080gb', 'h100', 'h100sxm', 'h100pcie', 'h10080gbhbm3', 'h100sxm580gb'],
    mib: 81559,
    cc: '9.0',
  },
  { name: 'H100 NVL', keys: ['h100nvl'], mib: 95830, cc: '9.0' },
  { name: 'H200', keys: ['h200', 'h200141gb', 'h200nvl'], mib: 143771, cc: '9.0' },
  { name: 'B200', keys: ['b200'], mib: 183359, cc: '10.0' },
];

const MiB = 2 ** 20;

function toSpec(e: GpuEntry): GpuSpec {
  return { name: e.name, memoryBytes: e.mib * MiB, bf16: parseFloat(e.cc) >= 8, computeCapability: e.cc };
}

/** Lowercase, vendor words and separators removed: "NVIDIA GeForce RTX 4090" → "rtx4090". */
export function normalizeGpuName(name: string): string {
  return name
    .toLowerCase()
    .replace(/\b(nvidia|geforce|tesla|quadro)\b/g, '')
    .replace(/[\s_\-()]+/g, '');
}

const SIZE = /^\s*(\d+(?:\.\d+)?)\s*(gib|gb|g|mib|mb|m|tib|tb|t)\s*$/i;

/** "24GiB", "24 GB", "80G", "24576MiB" → bytes (GB is read as GiB, as GPU marketing sizes are). */
export function parseMemorySize(text: string): number | null {
  const m = SIZE.exec(text);
  if (!m) return null;
  const unit = m[2]!.toLowerCase()[0];
  const scale = unit === 't' ? 2 ** 40 : unit === 'g' ? 2 ** 30 : MiB;
  return Math.round(parseFloat(m[1]!) * scale);
}

/** A catalog GPU from a name, fuzzy but unambiguous ("RTX 4090", "h100-80gb", "NVIDIA A100-SXM4-40GB"). */
export function lookupGpuName(name: string): GpuLookup {
  const key = normalizeGpuName(name);
  if (!key) return { ok: false, message: 'empty GPU name' };
  const exact = GPUS.find((g) => g.keys.includes(key));
  if (exact) return { ok: true, gpu: toSpec(exact) };
  // Keys must cover whole words of the name ("a10" does not match inside "a100"); the longest key wins.
  const words = name
    .toLowerCase()
    .replace(/\b(nvidia|geforce|tesla|quadro)\b/g, ' ')
    .split(/[^a-z0-9.]+/)
    .filter(Boolean);
  const spans = new Set<string>();
  for (let i = 0; i < words.length; i++)
    for (let j = i + 1; j <= words.length; j++) spans.add(words.slice(i, j).join(''));
  const hits = GPUS.flatMap((g) => g.keys.filter((k) => spans.has(k)).map((k) => ({ g, k })));
  const best = Math.max(0, ...hits.map((x) => x.k.length));
  const winners = [...new Set(hits.filter((x) => x.k.length === best).map((x) => x.g))];
  if (winners.length === 1) return { ok: true, gpu: toSpec(winners[0]!) };
  const family = GPUS.filter((g) => g.keys.some((k) => k.startsWith(key)));
  if (winners.length > 1 || family.length > 1) {
    const names = (winners.length > 1 ? winners : family).map((g) => g.name).join(', ');
    return { ok: false, message: `GPU "${name}" is ambiguous: ${names}` };
  }
  const near = closestGpuName(name);
  const hint = near ? `did you mean "${near}"? Otherwise use` : 'use';
  return {
    ok: false,
    message: `unknown GPU "${name}"; ${hint} a catalog name (e.g. "RTX 4090", "A100 80GB", "H100 80GB") or a size such as "24GiB"`,
  };
}

/**
 * The one catalog GPU a name that matches none (lookupGpuName failed) most likely means, or null: a card whose key starts with the name
 * ("RTX 6000" → "RTX 6000 Ada"; the older Quadro RTX 6000 is not in the catalog, so this is a guess offered, never
 * applied), else the card whose key is one edit away ("rtx4900" → "RTX 4090").
 */
export function closestGpuName(name: string): string | null {
  const key = normalizeGpuName(name);
  if (!key) return null;
  const prefixed = GPUS.filter((g) => g.keys.some((k) => k.startsWith(key)));
  if (prefixed.length === 1) return prefixed[0]!.name;
  const near = GPUS.filter((g) => g.keys.some((k) => k.length > 3 && editDistanceAtMostOne(k, key)));
  return near.length === 1 ? near[0]!.name : null;
}

/** Whether two strings differ by at most one insertion, deletion, substitution or swap of neighbours. */
function editDistanceAtMostOne(a: string, b: string): boolean {
  if (a === b) return true;
  if (Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (a.length === b.length) {
    if (a.slice(i + 1) === b.slice(i + 1)) return true;
    return a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2);
  }
  return a.length > b.length ? a.slice(i + 1) === b.slice(i) : a.slice(i) === b.slice(i + 1);
}

/** A GPU from a setting value: a catalog name or a memory size. ("auto" is detection's job.) */
export function gpuFromSetting(value: string): GpuLookup {
  const bytes = parseMemorySize(value);
  if (bytes !== null) {
    if (bytes <= 0) return { ok: false, message: `GPU memory must be positive: "${value}"` };
    return { ok: true, gpu: { name: `${value.trim()} GPU`, memoryBytes: bytes, bf16: true, computeCapability: null } };
  }
  return lookupGpuName(value);
}

/** Catalog names, for completion. */
export function gpuNames(): string[] {
  return GPUS.map((g) => g.name);
}
