import type { KeyFinding } from './keyCheck';
import { DialectReport, keyName, setFix } from './report';
import { propertyAt, type DialectProperty } from './schemaTable';
import { fitsType, type Coercion } from './typeCheck';
import { YamlTimestamp, type ScalarFinding } from './yaml11';

/** The YAML loader of each tool dialect (by id), for messages. */
const RULE_NAMES: Record<string, string> = {
  axolotl: 'PyYAML (YAML 1.1 rules)',
  'llama-factory': 'OmegaConf (YAML 1.1 rules)',
  trl: 'PyYAML (YAML 1.1 rules)',
};

/** Why the tool reads the scalar differently, in one clause. */
export function explainScalar(finding: ScalarFinding): string {
  switch (finding.difference) {
    case 'exponent':
      return `an exponent without a decimal point (\`${finding.source}\`) is not a number in YAML 1.1`;
    case 'boolean':
      return `\`${finding.source}\` is a boolean in YAML 1.1`;
    case 'octal':
      return `a leading 0 makes \`${finding.source}\` octal in YAML 1.1`;
    case 'underscore':
      return `YAML 1.1 ignores the underscores in \`${finding.source}\``;
    case 'base60':
      return `\`${finding.source}\` is a base-60 number in YAML 1.1`;
    case 'timestamp':
      return `\`${finding.source}\` is a date in YAML 1.1`;
    default:
      return `YAML 1.1 resolves \`${finding.source}\` differently`;
  }
}

function shown(value: unknown): string {
  if (value instanceof YamlTimestamp) return `a date (${value.text})`;
  return typeof value === 'string' ? `the string "${value}"` : String(value);
}

/** For each key whose value breaks its type only because of the tool's scalar rules: why, for the type diagnostic. */
export function scalarExplanations(
  report: DialectReport,
  findings: ScalarFinding[],
  keyFindings: KeyFinding[],
): Map<string, string> {
  const typeBroken = brokenNames(keyFindings);
  const tool = report.toolName;
  const explanations = new Map<string, string>();
  for (const finding of findings) {
    const name = keyName(finding.path);
    if (typeBroken.has(name))
      explanations.set(name, `${tool} reads it as ${shown(finding.theirs)}: ${explainScalar(finding)}`);
  }
  return explanations;
}

function brokenNames(keyFindings: KeyFinding[]): Set<string> {
  return new Set(keyFindings.filter((f) => f.kind === 'type' || f.kind === 'enum').map((f) => keyName(f.path)));
}

/**
 * One `dialect-yaml11` diagnostic per scalar the tool reads differently from YAML 1.2, at the value: information where
 * the tool still ends up with what was meant, a warning where the value changes. Where the tool's reading breaks the
 * key's type, the type diagnostic says so instead ({@link scalarExplanations}).
 */
export function reportScalarDifferences(
  report: DialectReport,
  schema: DialectProperty,
  findings: ScalarFinding[],
  keyFindings: KeyFinding[],
  coercion: Coercion,
): void {
  const typeBroken = brokenNames(keyFindings);
  const tool = report.toolName;
  for (const finding of findings) {
    if (!report.hasRoom()) break;
    const name = keyName(finding.path);
    if (typeBroken.has(name)) continue;
    const why = explainScalar(finding);
    const property = propertyAt(schema, finding.path);
    const intended = intendedNumber(finding);
    const harmless =
      property !== undefined &&
      !property.properties &&
      fitsType(finding.theirs, property, coercion) &&
      converges(finding, property);
    const message = `${tool} loads YAML with ${RULE_NAMES[report.dialect]} and reads \`${finding.source}\` as ${shown(finding.theirs)}, where YAML 1.2 reads ${shown(finding.ours)}: ${why}.`;
    const tail = harmless
      ? ` \`${name}\` accepts it, so ${tool} ends up with the value meant.`
      : intended !== undefined
        ? ` Write \`${yaml11Float(finding.source)}\` to mean the number in both.`
        : ' Quote it, or write it unambiguously, to say which is meant.';
    const fixes = !harmless && intended !== undefined ? [setFix(finding.path, intended)] : [];
    report.atValue(
      finding.path,
      harmless ? 'info' : 'warning',
      'dialect-yaml11',
      message + tail,
      fixes.length ? { fixes } : {},
    );
  }
}

/** The number a YAML 1.2 reader sees, when the source was meant as one (an exponent the tool reads as a string). */
function intendedNumber(finding: ScalarFinding): number | undefined {
  return finding.difference === 'exponent' && typeof finding.ours === 'number' && Number.isFinite(finding.ours)
    ? finding.ours
    : undefined;
}

/** An exponent literal both YAML versions read as the same float: a decimal point and a signed exponent (`1e-4` → `1.0e-4`). */
export function yaml11Float(source: string): string {
  const match = /^([-+]?[0-9][0-9_]*)(\.[0-9_]*)?[eE]([-+]?)([0-9]+)$/.exec(source);
  if (!match) return source;
  const fraction = match[2] && match[2].length > 1 ? match[2] : '.0';
  return `${match[1]}${fraction}e${match[3] || '+'}${match[4]}`;
}

/** Whether the tool's value, once its field converts it, equals what YAML 1.2 reads. */
function converges(finding: ScalarFinding, property: DialectProperty): boolean {
  const { ours, theirs } = finding;
  if (typeof ours === 'number' && typeof theirs === 'string') return Number(theirs) === ours && acceptsNumber(property);
  if (typeof ours === 'string' && typeof theirs === 'number')
    return acceptsNumber(property) && !acceptsString(property);
  if (typeof ours === 'string' && typeof theirs === 'boolean')
    return acceptsBoolean(property) && !acceptsString(property);
  return false;
}

function branches(property: DialectProperty): DialectProperty[] {
  return property.anyOf ?? [property];
}
function acceptsNumber(property: DialectProperty): boolean {
  return branches(property).some((b) => b.type === 'number' || b.type === 'integer');
}
function acceptsString(property: DialectProperty): boolean {
  return branches(property).some((b) => b.type === 'string' || b.enum !== undefined || b.type === undefined);
}
function acceptsBoolean(property: DialectProperty): boolean {
  return branches(property).some((b) => b.type === 'boolean');
}
