import type { Diagnostic } from 'vscode-languageserver-types';
import { hasSyntaxError, type ConfigDocument } from '../../document/configDocument';
import { closestMatch } from '../../text/suggest';
import { walkDialectKeys, type KeyFinding } from '../keyCheck';
import { DialectReport, keyName, parseProblemDiagnostics, removeFix, renameFix, setFix } from '../report';
import { suggestKey } from '../suggestKey';
import { describeType, describeValue, enumOf } from '../typeCheck';
import type { SubKind } from '../types';
import { findScalarDifferences, toolView } from '../yaml11';
import { reportScalarDifferences, scalarExplanations } from '../yaml11Report';
import { checkLlamaFactoryRules } from './checks';
import { runToolChecks } from '../toolChecks';
import { checkLlamaFactoryZero3 } from './zero3';
import type { DialectValidationOptions } from '../dialect';
import { keyInRelease, releaseWords, selectRelease, versionModeline, type SelectedRelease } from '../toolVersion';
import { commandOf, groupsOf, LLAMA_FACTORY_SCHEMA, LLAMA_FACTORY_VERSION } from './schema';

const PARSER_ERROR = "'Some keys are not used by the HfArgumentParser'";
const CHECKED_TRANSFORMERS = LLAMA_FACTORY_SCHEMA['x-lora-lens'].includes?.[0]?.version[0] ?? 'transformers 5';

interface Context {
  report: DialectReport;
  subKind: SubKind;
  groups: Set<string>;
  explanations: Map<string, string>;
  legalKeys: string[];
  /** The release the key set is (and where that choice came from), with the transformers range. */
  versions: string;
  /** The release the file is checked against (undefined: the schema keeps no releases). */
  selected: SelectedRelease | undefined;
}

/**
 * A LLaMA-Factory config checked as `llamafactory-cli <command>` parses it: OmegaConf's scalar rules, the argument
 * groups of the command (a key of another command stops the run), keys that exist only under an environment
 * variable, the dataclass types, and the `__post_init__` checks.
 */
export function validateLlamaFactory(
  doc: ConfigDocument,
  subKind: SubKind,
  configDir: string | null,
  options: Pick<DialectValidationOptions, 'installedVersion' | 'versionSetting'> = {},
): Diagnostic[] {
  const problems = parseProblemDiagnostics(doc);
  if (hasSyntaxError(doc) || !doc.value || typeof doc.value !== 'object' || Array.isArray(doc.value)) return problems;
  const report = new DialectReport(
    doc,
    'llama-factory',
    LLAMA_FACTORY_VERSION,
    LLAMA_FACTORY_SCHEMA['x-lora-lens'].tool,
  );
  const scalars = findScalarDifferences(doc, 'omegaconf');
  const config = toolView(doc.value, scalars) as Record<string, unknown>;
  const findings = walkDialectKeys(LLAMA_FACTORY_SCHEMA, config, 'dataclass');
  const groups = groupsOf(subKind);
  const legalKeys = legalKeysOf(subKind);
  const selected = selectRelease(LLAMA_FACTORY_SCHEMA, {
    modeline: versionModeline(doc.text, 'llama-factory'),
    setting: options.versionSetting,
    installed: options.installedVersion,
  });
  const release = selected ? releaseWords('LLaMA-Factory', selected) : LLAMA_FACTORY_VERSION;
  if (selected?.note)
    report.atDocument('info', 'lf-version', `LoRA Lens checks this file against ${release}: ${selected.note}.`);
  const context: Context = {
    report,
    subKind,
    groups,
    explanations: scalarExplanations(report, scalars, findings),
    legalKeys,
    versions: `${release} with transformers 4.55-5.8`,
    selected,
  };
  for (const finding of findings) if (finding.kind === 'known' || report.hasRoom()) reportFinding(context, finding);
  reportScalarDifferences(report, LLAMA_FACTORY_SCHEMA, scalars, findings, 'dataclass');
  checkLlamaFactoryRules(report, config, configDir);
  // The checks of `llamafactory-cli train`'s argument parsing (the other commands parse fewer groups).
  if (subKind === 'train') {
    runToolChecks(report, LLAMA_FACTORY_SCHEMA, config, new Set(), selected?.release.version);
    checkLlamaFactoryZero3(report, config, configDir);
  }
  return [...problems, ...report.sorted()];
}

const legalKeysCache = new Map<SubKind, string[]>();

/** The keys a command accepts without an environment variable: the only ones a "did you mean" offers. */
function legalKeysOf(subKind: SubKind): string[] {
  let keys = legalKeysCache.get(subKind);
  if (!keys) {
    const groups = groupsOf(subKind);
    keys = Object.entries(LLAMA_FACTORY_SCHEMA.properties)
      .filter(([, p]) => groups.has(p['x-group'] ?? '') && !p['x-gate']?.env)
      .map(([k]) => k);
    legalKeysCache.set(subKind, keys);
  }
  return keys;
}

/**
 * A top-level key as the release checked has it: removed or renamed by then (with what replaces it), not there yet,
 * or still there though a later release removed it (nothing to say). True when that settled the key.
 */
function reportAgainstRelease({ report, versions }: Context, finding: KeyFinding, selected: SelectedRelease): boolean {
  const key = String(finding.path[0]);
  const inRelease = keyInRelease(LLAMA_FACTORY_SCHEMA, key, selected);
  if (finding.kind === 'unknown' && inRelease.kind === 'still-there') return true;
  if (finding.kind === 'unknown' && inRelease.kind === 'removed') {
    const { since, change, instead, renameTo } = inRelease.removed;
    report.atKey(
      finding.path,
      'error',
      'lf-removed-key',
      `LLaMA-Factory stops with ${PARSER_ERROR}: \`${key}\` was ${renameTo ? 'renamed' : 'removed'} in LLaMA-Factory ${since} (${change}), and this file is checked against ${versions}. Use ${instead}.`,
      {
        ...(renameTo ? { suggestion: renameTo } : {}),
        fixes: renameTo ? [renameFix(finding.path, renameTo)] : [removeFix(finding.path)],
      },
    );
    return true;
  }
  if (finding.kind !== 'known' || inRelease.kind !== 'not-yet') return false;
  report.atKey(
    finding.path,
    'error',
    'lf-key-not-in-release',
    `LLaMA-Factory stops with ${PARSER_ERROR}: \`${key}\` came with LLaMA-Factory ${inRelease.since}, and this file is checked against ${versions}. Upgrade LLaMA-Factory to ${inRelease.since} or later, or remove the key.`,
    { fixes: [removeFix(finding.path)] },
  );
  return true;
}

function reportFinding(context: Context, finding: KeyFinding): void {
  const { report, subKind } = context;
  const name = keyName(finding.path);
  if (context.selected && finding.path.length === 1 && reportAgainstRelease(context, finding, context.selected)) return;
  switch (finding.kind) {
    case 'unknown': {
      const renamed = finding.path.length === 1 ? RENAMED_TRAINING_ARGS[finding.key] : undefined;
      if (renamed && !finding.present.has(renamed.to)) {
        report.atKey(
          finding.path,
          'error',
          'lf-renamed-key',
          `LLaMA-Factory stops with ${PARSER_ERROR}: \`${finding.key}\` was renamed \`${renamed.to}\` ${renamed.when}, and ${context.versions} reads only the new name. Rename it.`,
          { suggestion: renamed.to, fixes: [renameFix(finding.path, renamed.to)] },
        );
        return;
      }
      const suggestion = report.takeSuggestion()
        ? suggestKey(finding.key, context.legalKeys, finding.present)
        : undefined;
      report.atKey(
        finding.path,
        'error',
        'lf-unknown-key',
        `LLaMA-Factory stops with ${PARSER_ERROR}: \`${finding.key}\` is not a key of \`${commandOf(subKind)}\` (${context.versions}). Either it is misspelled, or it belongs to another version of LLaMA-Factory.${suggestion ? ` Did you mean \`${suggestion}\`?` : ''}`,
        {
          ...(suggestion ? { suggestion } : {}),
          fixes: suggestion ? [renameFix(finding.path, suggestion)] : [removeFix(finding.path)],
        },
      );
      return;
    }
    case 'known':
      reportKnownKey(context, finding.key, finding.path, finding.property);
      return;
    case 'type': {
      const because = context.explanations.get(name);
      report.atValue(
        finding.path,
        'error',
        'lf-type',
        `LLaMA-Factory passes values to its dataclasses unconverted, and \`${name}\` must be ${describeType(finding.property)}, not ${describeValue(finding.value)}: the run fails or misbehaves.${because ? ` (${because}.)` : ''}`,
      );
      return;
    }
    case 'enum': {
      const allowed = enumOf(finding.property) ?? [];
      const suggestion = closestMatch(String(finding.value), allowed);
      report.atValue(
        finding.path,
        'error',
        'lf-enum',
        `LLaMA-Factory stops: \`${name}\` must be ${describeType(finding.property)}; got ${describeValue(finding.value)}.${suggestion ? ` Did you mean \`${suggestion}\`?` : ''}`,
        {
          allowed,
          ...(suggestion ? { suggestion, fixes: [setFix(finding.path, suggestion)] } : {}),
        },
      );
    }
  }
}

/**
 * TrainingArguments fields transformers renamed and then removed: a config written for an older release names the old
 * key. transformers' own warning: "`evaluation_strategy` is deprecated and will be removed in version 4.46 of
 * Transformers. Use `eval_strategy` instead" (training_args.py before 4.46).
 */
const RENAMED_TRAINING_ARGS: Readonly<Record<string, { to: string; when: string }>> = {
  evaluation_strategy: { to: 'eval_strategy', when: 'by transformers, which removed the old name in 4.46' },
};

function reportKnownKey(
  context: Context,
  key: string,
  path: KeyFinding['path'],
  property: NonNullable<Extract<KeyFinding, { kind: 'known' }>['property']>,
): void {
  const { report, subKind, groups } = context;
  const gate = property['x-gate'];
  const group = property['x-group'] ?? '';
  if (gate?.env?.includes('transformers-kt')) {
    if (subKind === 'train')
      report.atKey(
        path,
        'info',
        'lf-env-key',
        `\`${key}\` is read by the KTransformers build of transformers (LLaMA-Factory's KT training path); with the stock transformers, \`${commandOf(subKind)}\` stops with ${PARSER_ERROR}.`,
      );
    return;
  }
  if (gate?.env && subKind === 'train') {
    report.atKey(
      path,
      'info',
      'lf-env-key',
      `\`${key}\` exists only when LLaMA-Factory runs with ${gate.env.map((v) => `\`${v}=1\``).join(' or ')} (its Megatron backends); without it, \`llamafactory-cli train\` stops with ${PARSER_ERROR}.`,
    );
    return;
  }
  if (!groups.has(group) || gate?.env) {
    report.atKey(
      path,
      'error',
      'lf-wrong-command',
      `\`${key}\` is read by \`llamafactory-cli train\` only: \`${commandOf(subKind)}\`, which this file is for, stops with ${PARSER_ERROR}. Remove it, or run the file with \`llamafactory-cli train\`.`,
      { fixes: [removeFix(path)] },
    );
    return;
  }
  if (gate?.transformers) {
    report.atKey(
      path,
      'info',
      'lf-transformers-version',
      `\`${key}\` is a TrainingArguments field of transformers 4.x (${LLAMA_FACTORY_VERSION} allows transformers 4.55-5.8) that ${CHECKED_TRANSFORMERS} no longer has; with a transformers that lacks it, \`llamafactory-cli train\` stops with ${PARSER_ERROR}.`,
    );
  }
}
