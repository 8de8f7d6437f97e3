import type { Diagnostic } from 'vscode-languageserver-types';
import type { ConfigDocument } from '../../document/configDocument';
import { closestMatch } from '../../text/suggest';
import type { KeyFinding } from '../keyCheck';
import { keyName, removeFix, renameFix, setFix, type DialectReport } from '../report';
import { suggestKey } from '../suggestKey';
import { readToolConfig } from '../toolReading';
import { describeType, describeValue, enumOf } from '../typeCheck';
import { reportScalarDifferences } from '../yaml11Report';
import { checkTrlRules } from './checks';
import { TRL_SCHEMA, TRL_VERSION, trlGroupsOf } from './schema';

type Command = 'sft' | 'dpo';
type Known = NonNullable<Extract<KeyFinding, { kind: 'known' }>['property']>;

/** accelerate's own words when it gets an option it does not have (TRL passes it every key no dataclass takes). */
const LAUNCH_ERROR = '"Accelerate launch command: error: unrecognized arguments"';

interface Context {
  report: DialectReport;
  command: Command;
  groups: Set<string>;
  explanations: Map<string, string>;
  legalKeys: string[];
  versions: string;
}

/**
 * Keys older TRL (and transformers) releases had under another name: a recipe written for them names the old key,
 * which the installed release hands to accelerate launch, which stops. From the releases' own deprecation warnings:
 * SFTConfig `max_seq_length` became `max_length`, ModelConfig `torch_dtype` became `dtype` (as transformers'
 * from_pretrained did), TrainingArguments `evaluation_strategy` became `eval_strategy` (removed in transformers 4.46).
 */
const RENAMED: Readonly<Record<string, string>> = {
  max_seq_length: 'max_length',
  torch_dtype: 'dtype',
  evaluation_strategy: 'eval_strategy',
};
/** DPOConfig keys of releases before 1.x that the installed TRL no longer has: prompt and completion share `max_length`. */
const REMOVED_DPO = new Set(['max_prompt_length', 'max_completion_length', 'rpo_alpha', 'reference_free']);

/**
 * A TRL recipe checked as `trl <command> --config FILE` reads it: PyYAML's YAML 1.1 scalars; each key taken by one of
 * the command's dataclasses (strings converted by argparse as on the command line, other values passed as they are),
 * or by `accelerate launch`; any other key stops the run before it starts; then the dataclasses' own checks.
 */
export function validateTrl(doc: ConfigDocument, command: Command, installedVersion?: string): Diagnostic[] {
  // argparse converts a string value with the field's type, as on the command line: the lax coercion matches it.
  const { problems, reading } = readToolConfig(doc, 'trl', TRL_SCHEMA, TRL_VERSION, 'pyyaml', 'pydantic');
  if (!reading) return problems;
  const { report, config, scalars, findings, explanations } = reading;
  const groups = trlGroupsOf(command);
  const versions = installedVersion
    ? `${TRL_VERSION}; the installed TRL is ${installedVersion}, whose keys may differ`
    : TRL_VERSION;
  const legalKeys = Object.entries(TRL_SCHEMA.properties)
    .filter(([, p]) => groups.has(p['x-group'] ?? '') && !p['x-gate']?.transformers)
    .map(([k]) => k);
  const context: Context = { report, command, groups, explanations, legalKeys, versions };
  for (const finding of findings) if (finding.kind === 'known' || report.hasRoom()) reportFinding(context, finding);
  reportScalarDifferences(report, TRL_SCHEMA, scalars, findings, 'pydantic');
  checkTrlRules(report, config, command);
  return [...problems, ...report.sorted()];
}

function reportFinding(context: Context, finding: KeyFinding): void {
  if (finding.kind === 'unknown') reportUnknownKey(context, finding);
  else if (finding.kind === 'known') reportKnownKey(context, finding.key, finding.path, finding.property);
  else if (finding.kind === 'type') reportTypeError(context, finding);
  else reportEnumError(context, finding);
}

/** argparse converts a string with the field's type and stops when it cannot; any other YAML value goes in as it is. */
function reportTypeError(
  { report, command, explanations }: Context,
  finding: Extract<KeyFinding, { kind: 'type' }>,
): void {
  const name = keyName(finding.path);
  const because = explanations.get(name);
  const expected = describeType(finding.property);
  const message =
    typeof finding.value === 'string'
      ? `\`trl ${command}\` stops: argparse cannot read ${describeValue(finding.value)} as ${expected} for \`${name}\`.`
      : `TRL passes a YAML ${Array.isArray(finding.value) ? 'list' : 'value'} to its dataclass unconverted, and \`${name}\` must be ${expected}, not ${describeValue(finding.value)}: the run fails or misbehaves.`;
  report.atValue(finding.path, 'error', 'trl-type', `${message}${because ? ` (${because}.)` : ''}`);
}

function reportEnumError({ report, command }: Context, finding: Extract<KeyFinding, { kind: 'enum' }>): void {
  const allowed = enumOf(finding.property) ?? [];
  const suggestion = closestMatch(String(finding.value), allowed);
  // argparse checks choices on the command line only: a config value gets past the parser and fails where it is used.
  report.atValue(
    finding.path,
    'error',
    'trl-enum',
    `\`${keyName(finding.path)}\` must be ${describeType(finding.property)}; got ${describeValue(finding.value)}. \`trl ${command}\` does not check a config file's value against the choices, so the run starts and fails where the value is used (loading the model, preparing the data).${suggestion ? ` Did you mean \`${suggestion}\`?` : ''}`,
    {
      allowed,
      ...(suggestion ? { suggestion, fixes: [setFix(finding.path, suggestion)] } : {}),
    },
  );
}

function reportUnknownKey(context: Context, finding: Extract<KeyFinding, { kind: 'unknown' }>): void {
  const { report, command } = context;
  const top = finding.path.length === 1;
  const renamed = top ? RENAMED[finding.key] : undefined;
  const stops = top
    ? `\`trl ${command}\` hands \`${finding.key}\`, a key none of its dataclasses has, to accelerate launch, which stops with ${LAUNCH_ERROR}`
    : `TRL stops: \`${keyName(finding.path)}\` is not a field of a \`datasets\` entry`;
  if (renamed && !finding.present.has(renamed)) {
    report.atKey(
      finding.path,
      'error',
      'trl-renamed-key',
      `${stops}: it is the older name of \`${renamed}\`, and ${context.versions} reads only the new one. Rename it.`,
      { suggestion: renamed, fixes: [renameFix(finding.path, renamed)] },
    );
    return;
  }
  if (top && command === 'dpo' && REMOVED_DPO.has(finding.key)) {
    report.atKey(
      finding.path,
      'error',
      'trl-removed-key',
      `${stops}: \`${finding.key}\` belonged to the DPOConfig of older TRL releases; ${context.versions} truncates prompt and completion together to \`max_length\` (\`truncation_mode\` says which end goes). Remove it.`,
      { fixes: [removeFix(finding.path)] },
    );
    return;
  }
  const candidates = top ? context.legalKeys : finding.known;
  const suggestion = report.takeSuggestion() ? suggestKey(finding.key, candidates, finding.present) : undefined;
  report.atKey(
    finding.path,
    'error',
    'trl-unknown-key',
    `${stops} (${context.versions}). Either it is misspelled, or it belongs to another version of TRL.${suggestion ? ` Did you mean \`${suggestion}\`?` : ''}`,
    {
      ...(suggestion ? { suggestion } : {}),
      fixes: suggestion ? [renameFix(finding.path, suggestion)] : [removeFix(finding.path)],
    },
  );
}

function reportKnownKey(context: Context, key: string, path: KeyFinding['path'], property: Known): void {
  const { report, command, groups } = context;
  if (path.length !== 1) return;
  const group = property['x-group'] ?? '';
  if (!groups.has(group)) {
    const other = command === 'sft' ? 'dpo' : 'sft';
    report.atKey(
      path,
      'error',
      'trl-wrong-command',
      `\`${key}\` is a key of \`trl ${other}\` only: \`trl ${command}\`, which this recipe is for, hands it to accelerate launch, which stops with ${LAUNCH_ERROR}. Remove it, or run the recipe with \`trl ${other}\`.`,
      { fixes: [removeFix(path)] },
    );
    return;
  }
  if (property['x-gate']?.transformers) {
    report.atKey(
      path,
      'info',
      'trl-transformers-version',
      `\`${key}\` is a TrainingArguments field of transformers 4.x (TRL ${TRL_VERSION.replace(/^trl /, '')} allows transformers 4.56.2 and later) that transformers 5 no longer has; with transformers 5, \`trl ${command}\` stops with ${LAUNCH_ERROR}.`,
    );
  }
}
