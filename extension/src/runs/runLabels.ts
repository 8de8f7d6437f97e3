/**
 * Telling runs apart: the settings that differ between runs, as short text ("r=16", "lr=2e-4"), for the Runs view's
 * labels and Compare's legends and table. Pure (no DOM, no vscode, no node imports): the page bundles it too.
 */
import type { KeySettings } from './panelProtocol';

/** The settings that tell runs apart, in the order a reader looks for them. */
export const DISTINGUISHING_KEYS = [
  'method',
  'model',
  'rank',
  'alpha',
  'learningRate',
  'effectiveBatch',
  'maxLength',
  'precision',
] as const satisfies readonly (keyof KeySettings)[];
export type DistinguishingKey = (typeof DISTINGUISHING_KEYS)[number];

/** The column header Compare's table gives each setting. */
export const SETTING_NAMES: Record<DistinguishingKey, string> = {
  method: 'method',
  model: 'model',
  rank: 'r',
  alpha: 'alpha',
  learningRate: 'lr',
  effectiveBatch: 'batch',
  maxLength: 'max_length',
  precision: 'precision',
};

/** A setting's value as short text: learning rates in exponent form (2e-4), a model by its last path part. */
export function settingValue(key: DistinguishingKey, settings: KeySettings): string {
  const value = settings[key];
  if (value === undefined || value === null) return '–';
  if (key === 'learningRate' && typeof value === 'number')
    return value
      .toExponential()
      .replace(/\.?0*e([+-])/, 'e$1')
      .replace('e+', 'e');
  if (key === 'model' && typeof value === 'string') return value.split('/').pop() || value;
  return String(value);
}

/** "r=16", "lr=2e-4", "qlora" (a method is its own name), "Qwen2.5-7B" (a model too). */
export function settingText(key: DistinguishingKey, settings: KeySettings): string {
  const value = settingValue(key, settings);
  return key === 'method' || key === 'model' ? value : `${SETTING_NAMES[key]}=${value}`;
}

/** The keys whose values are not the same in every one of these runs (none for fewer than two runs). */
export function differingKeys(list: readonly KeySettings[]): DistinguishingKey[] {
  if (list.length < 2) return [];
  return DISTINGUISHING_KEYS.filter((key) => new Set(list.map((s) => settingValue(key, s))).size > 1);
}

/** What tells one run from the others: its differing settings, at most `max` of them ("lora r=64 lr=1e-4"). */
export function differenceText(settings: KeySettings, keys: readonly DistinguishingKey[], max = 3): string {
  return keys
    .slice(0, max)
    .map((key) => settingText(key, settings))
    .join(' ');
}

/**
 * Compare's legends: each run by what differs ("r=16" against "r=64"); runs whose settings are all alike by their
 * name and start time, else their position. Always distinct: a clash gets the run id's last part.
 */
export function shortLegends(
  runs: readonly { id: string; name: string; when?: string; settings: KeySettings }[],
): string[] {
  const keys = differingKeys(runs.map((r) => r.settings));
  const names = new Set(runs.map((r) => r.name));
  const legends = runs.map((run, i) => {
    const parts = [names.size > 1 ? run.name : '', differenceText(run.settings, keys)].filter(Boolean);
    if (parts.length) return parts.join(' ');
    return run.when ?? `run ${i + 1}`;
  });
  return legends.map((legend, i) =>
    legends.indexOf(legend) === legends.lastIndexOf(legend) ? legend : `${legend} #${runs[i]!.id.slice(-4)}`,
  );
}

/** Compare's table of the settings that differ: one header per setting, one row of values per run. */
export function settingsDiffTable(list: readonly KeySettings[]): { headers: string[]; rows: string[][] } {
  const keys = differingKeys(list);
  return { headers: keys.map((k) => SETTING_NAMES[k]), rows: list.map((s) => keys.map((k) => settingValue(k, s))) };
}

/**
 * Text for the one runs Output channel, each line led by the run it comes from ("[qwen 09:05] loss …"), so runs that
 * write at the same time stay apart; a trailing newline adds no empty line.
 */
export function prefixedLines(prefix: string, text: string): string {
  return text
    .replace(/\r?\n$/, '')
    .split(/\r?\n/)
    .map((line) => `[${prefix}] ${line}`)
    .join('\n');
}

/** A run id as the log's line prefix: "qwen-small-20251123-090507-8000" -> "qwen-small 09:05:07"; other ids unchanged. */
export function logPrefix(runId: string): string {
  const match = /^(.*)-\d{8}-(\d{2})(\d{2})(\d{2})-[0-9a-f]{4}$/.exec(runId);
  return match ? `${match[1]} ${match[2]}:${match[3]}:${match[4]}` : runId;
}
