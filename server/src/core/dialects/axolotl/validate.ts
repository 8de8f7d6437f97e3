import type { Diagnostic } from 'vscode-languageserver-types';
import { hasSyntaxError, type ConfigDocument } from '../../document/configDocument';
import { walkDialectKeys, type KeyFinding } from '../keyCheck';
import { DialectReport, keyName, parseProblemDiagnostics, removeFix, renameFix, setFix } from '../report';
import { suggestKey } from '../suggestKey';
import { describeType, describeValue, enumOf } from '../typeCheck';
import { findScalarDifferences, toolView } from '../yaml11';
import { reportScalarDifferences, scalarExplanations } from '../yaml11Report';
import { closestMatch } from '../../text/suggest';
import { adviseAxolotlRanges, checkAxolotlRules } from './checks';
import { checkAxolotlStops, removedKeyFinding } from './removed';
import { runToolChecks } from '../toolChecks';
import type { DialectValidationOptions } from '../dialect';
import { keyInRelease, releaseWords, selectRelease, versionModeline, type SelectedRelease } from '../toolVersion';
import { AXOLOTL_SCHEMA, AXOLOTL_VERSION } from './schema';

/**
 * An axolotl config checked as axolotl checks it: scalars read with PyYAML's YAML 1.1 rules, values converted as
 * pydantic does, unknown keys reported as what they are to axolotl (silently dropped), plugin keys read only with
 * their plugin, and the validators that stop a run before it starts.
 */
export function validateAxolotl(
  doc: ConfigDocument,
  options: Pick<DialectValidationOptions, 'installedVersion' | 'versionSetting'> = {},
): Diagnostic[] {
  const problems = parseProblemDiagnostics(doc);
  if (hasSyntaxError(doc) || !isObject(doc.value)) return problems;
  const report = new DialectReport(doc, 'axolotl', AXOLOTL_VERSION, AXOLOTL_SCHEMA['x-lora-lens'].tool);
  const scalars = findScalarDifferences(doc, 'pyyaml');
  const config = toolView(doc.value, scalars) as Record<string, unknown>;
  const findings = walkDialectKeys(AXOLOTL_SCHEMA, config, 'pydantic');
  const explanations = scalarExplanations(report, scalars, findings);
  const plugins = listedPlugins(config.plugins);
  const selected = selectRelease(AXOLOTL_SCHEMA, {
    modeline: versionModeline(doc.text, 'axolotl'),
    setting: options.versionSetting,
    installed: options.installedVersion,
  });
  const versions = selected ? releaseWords('axolotl', selected) : AXOLOTL_VERSION;
  if (selected?.note)
    report.atDocument('info', 'axolotl-version', `LoRA Lens checks this file against ${versions}: ${selected.note}.`);
  const stopped = checkAxolotlStops(report, config, selected?.release.version);
  const context = { plugins, explanations, versions, stopped, selected };
  for (const finding of findings)
    if (finding.kind === 'known' || report.hasRoom()) reportFinding(report, finding, context);
  reportScalarDifferences(report, AXOLOTL_SCHEMA, scalars, findings, 'pydantic');
  checkAxolotlRules(report, config);
  runToolChecks(report, AXOLOTL_SCHEMA, config, plugins, selected?.release.version);
  adviseAxolotlRanges(report, config);
  return [...problems, ...report.sorted()];
}

/** The plugins listed, by class path and by module: a plugin's keys count when its module is listed under any class name. */
function listedPlugins(value: unknown): Set<string> {
  const listed = new Set<string>();
  for (const entry of Array.isArray(value) ? value : []) {
    const name = String(entry);
    listed.add(name);
    listed.add(name.replace(/\.[^.]+$/, ''));
  }
  return listed;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What reporting a key finding reads: the listed plugins, YAML 1.1 explanations, the version line, the keys already reported as stops. */
interface FindingContext {
  plugins: Set<string>;
  explanations: Map<string, string>;
  versions: string;
  stopped: Set<string>;
  /** The release the file is checked against (undefined: the schema keeps no releases). */
  selected: SelectedRelease | undefined;
}

/**
 * A top-level key as the release checked has it: one it no longer has (removed, with what replaces it), one it does
 * not have yet, or one it still has that a later release removed (nothing to say). True when that settled the key.
 */
function reportAgainstRelease(
  report: DialectReport,
  finding: KeyFinding,
  selected: SelectedRelease,
  versions: string,
): boolean {
  const key = String(finding.path[0]);
  const inRelease = keyInRelease(AXOLOTL_SCHEMA, key, selected);
  if (finding.kind === 'unknown' && inRelease.kind === 'still-there') return true;
  if (finding.kind === 'unknown' && inRelease.kind === 'removed') {
    const removed = removedKeyFinding(key, inRelease.removed);
    report.atKey(finding.path, 'warning', 'axolotl-removed-key', removed.message, { fixes: removed.fixes });
    return true;
  }
  if (finding.kind !== 'known' || inRelease.kind !== 'not-yet') return false;
  report.atKey(
    finding.path,
    'warning',
    'axolotl-key-not-in-release',
    `\`${key}\` came with axolotl ${inRelease.since}; this file is checked against ${versions}, which ignores it without a word, so the setting is lost. Upgrade axolotl to ${inRelease.since} or later, or remove the key.`,
    { fixes: [removeFix(finding.path)] },
  );
  return true;
}

function reportFinding(
  report: DialectReport,
  finding: KeyFinding,
  { plugins, explanations, versions, stopped, selected }: FindingContext,
): void {
  const name = keyName(finding.path);
  // An empty key (`debug:`, a leftover of older examples) holds nothing, so nothing is lost (issue 19: 32 of 49 users' files).
  if (finding.kind === 'unknown' && (finding.value === null || finding.value === '')) return;
  if (selected && finding.path.length === 1 && reportAgainstRelease(report, finding, selected, versions)) return;
  switch (finding.kind) {
    case 'unknown': {
      const suggestion = report.takeSuggestion() ? suggestKey(finding.key, finding.known, finding.present) : undefined;
      const where = finding.path.length > 1 ? ` in \`${keyName(finding.path.slice(0, -1))}\`` : '';
      const hint = suggestion ? ` Did you mean \`${suggestion}\`?` : '';
      report.atKey(
        finding.path,
        'warning',
        'axolotl-unknown-key',
        `axolotl ignores \`${finding.key}\` without a word: it is not one of its keys${where} (${versions}), so the setting is lost.${hint}`,
        {
          ...(suggestion ? { suggestion } : {}),
          fixes: suggestion ? [renameFix(finding.path, suggestion)] : [removeFix(finding.path)],
        },
      );
      return;
    }
    case 'known': {
      const plugin = finding.property['x-gate']?.plugin;
      if (plugin && !plugins.has(plugin) && !plugins.has(plugin.replace(/\.[^.]+$/, ''))) {
        report.atKey(
          finding.path,
          'warning',
          'axolotl-plugin-not-listed',
          `axolotl ignores \`${finding.key}\` unless \`plugins:\` lists \`${plugin}\`; this file does not list it, so the setting is lost.`,
        );
      }
      const replacement = finding.property['x-gate']?.deprecatedFor;
      if (replacement && !stopped.has(finding.key))
        report.atKey(
          finding.path,
          'info',
          'axolotl-deprecated-key',
          `\`${finding.key}\` is deprecated in axolotl; \`${replacement}\` replaces it.`,
        );
      return;
    }
    case 'type': {
      const because = explanations.get(name);
      report.atValue(
        finding.path,
        'error',
        'axolotl-type',
        `axolotl stops before training: pydantic rejects ${describeValue(finding.value)} for \`${name}\`, which must be ${describeType(finding.property)}.${because ? ` (${because}.)` : ''}`,
      );
      return;
    }
    case 'enum': {
      const allowed = enumOf(finding.property) ?? [];
      const suggestion = closestMatch(String(finding.value), allowed);
      report.atValue(
        finding.path,
        'error',
        'axolotl-enum',
        `axolotl stops before training: \`${name}\` must be ${describeType(finding.property)}; got ${describeValue(finding.value)}.${suggestion ? ` Did you mean \`${suggestion}\`?` : ''}`,
        {
          allowed,
          ...(suggestion ? { suggestion, fixes: [setFix(finding.path, suggestion)] } : {}),
        },
      );
    }
  }
}
