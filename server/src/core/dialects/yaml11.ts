import { isMap, isScalar, isSeq, type Node } from 'yaml';
import type { ConfigDocument, NodePath } from '../document/configDocument';

/**
 * Scalars as the other tools read them. axolotl loads YAML with PyYAML's `safe_load` (YAML 1.1 rules);
 * LLaMA-Factory with OmegaConf (PyYAML's loader plus a float rule that accepts `1e-4`, and no timestamps).
 * LoRA Lens parses YAML 1.2, so a few plain scalars mean something else to the tool: `1e-4` (a string in 1.1),
 * `yes`/`on`/`off` (booleans in 1.1), `0755` (octal in 1.1), `1_000`, `1:30` (base 60 in 1.1), dates.
 */
export type ScalarRules = 'pyyaml' | 'omegaconf';

/** A date or time that PyYAML turns into a datetime object (never a string). */
export class YamlTimestamp {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type ToolScalar = string | number | boolean | null | YamlTimestamp;

export type ScalarDifference = 'exponent' | 'boolean' | 'octal' | 'underscore' | 'base60' | 'timestamp' | 'other';

export interface ScalarFinding {
  path: NodePath;
  /** The scalar as written. */
  source: string;
  /** What LoRA Lens (YAML 1.2) reads. */
  ours: unknown;
  /** What the tool reads. */
  theirs: ToolScalar;
  difference: ScalarDifference;
  /** Where the scalar starts in the text. */
  offset: number;
}

const BOOL_11 = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
const FLOAT_11 =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
const INT_11 =
  /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
const NULL_11 = /^(?:~|null|Null|NULL|)$/;
const TIMESTAMP_11 =
  /^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$/;
/** OmegaConf's extra float rule (tried after PyYAML's own rules). */
const FLOAT_OMEGACONF =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;

/** A plain (unquoted) scalar as PyYAML or OmegaConf resolves it. */
export function resolvePlainScalar(source: string, rules: ScalarRules): ToolScalar {
  if (BOOL_11.test(source)) return /^(?:yes|true|on)$/i.test(source);
  if (FLOAT_11.test(source)) return base60OrFloat(source);
  if (INT_11.test(source)) return constructInt(source);
  if (NULL_11.test(source)) return null;
  if (rules === 'pyyaml' && TIMESTAMP_11.test(source)) return new YamlTimestamp(source);
  if (rules === 'omegaconf' && FLOAT_OMEGACONF.test(source)) return base60OrFloat(source);
  return source;
}

function base60OrFloat(source: string): number {
  const text = source.replace(/_/g, '').toLowerCase();
  if (text.endsWith('.inf')) return text.startsWith('-') ? -Infinity : Infinity;
  if (text === '.nan') return NaN;
  if (text.includes(':')) return base60(text);
  return Number(text);
}

function constructInt(source: string): number {
  let text = source.replace(/_/g, '');
  let sign = 1;
  if (text.startsWith('-')) {
    sign = -1;
    text = text.slice(1);
  } else if (text.startsWith('+')) text = text.slice(1);
  if (text === '0') return 0;
  if (text.startsWith('0b')) return sign * parseInt(text.slice(2), 2);
  if (text.startsWith('0x')) return sign * parseInt(text.slice(2), 16);
  if (text.startsWith('0')) return sign * parseInt(text, 8);
  if (text.includes(':')) return sign * base60(text);
  return sign * Number(text);
}

function base60(text: string): number {
  const negative = text.startsWith('-');
  const digits = text.replace(/^[-+]/, '').split(':').map(Number);
  const value = digits.reduce((total, digit) => total * 60 + digit, 0);
  return negative ? -value : value;
}

function sameScalar(ours: unknown, theirs: ToolScalar): boolean {
  if (theirs instanceof YamlTimestamp) return false;
  if (typeof ours === 'number' && typeof theirs === 'number')
    return ours === theirs || (Number.isNaN(ours) && Number.isNaN(theirs));
  return ours === theirs;
}

function classify(source: string, theirs: ToolScalar): ScalarDifference {
  if (theirs instanceof YamlTimestamp) return 'timestamp';
  if (typeof theirs === 'boolean') return 'boolean';
  if (/^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE]/.test(source)) return 'exponent';
  if (source.includes(':')) return 'base60';
  if (source.includes('_')) return 'underscore';
  if (/^[-+]?0[0-7_]+$/.test(source) || /^[-+]?0o/.test(source)) return 'octal';
  return 'other';
}

/** More scalar findings than this are not collected: the report shows 200 at most, and a hostile file has thousands. */
export const MAX_SCALAR_FINDINGS = 1000;

/** Every plain scalar value whose meaning under the tool's rules differs from YAML 1.2's, with its path (at most {@link MAX_SCALAR_FINDINGS}). */
export function findScalarDifferences(doc: ConfigDocument, rules: ScalarRules): ScalarFinding[] {
  const findings: ScalarFinding[] = [];
  const root = doc.yaml?.contents;
  if (!root) return findings;
  const stack: Array<{ node: unknown; path: NodePath }> = [{ node: root, path: [] }];
  while (stack.length && findings.length < MAX_SCALAR_FINDINGS) {
    const { node, path } = stack.pop()!;
    if (isMap(node)) {
      for (const pair of node.items) {
        if (isScalar(pair.key)) stack.push({ node: pair.value, path: [...path, String(pair.key.value)] });
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => stack.push({ node: item, path: [...path, index] }));
    } else if (isScalar(node) && node.type === 'PLAIN' && !(node as Node).tag && node.range) {
      const source = doc.text.slice(node.range[0], node.range[1]).trim();
      const theirs = resolvePlainScalar(source, rules);
      if (!sameScalar(node.value, theirs))
        findings.push({
          path,
          source,
          ours: node.value,
          theirs,
          difference: classify(source, theirs),
          offset: node.range[0],
        });
    }
  }
  return findings.sort(comparePaths);
}

/** Document order is what the report wants; the AST walk yields reverse order, so the source offset decides. */
function comparePaths(a: ScalarFinding, b: ScalarFinding): number {
  return a.offset - b.offset;
}

/** The document's value with each differing scalar replaced by the tool's reading: what the tool validates. */
export function toolView(value: unknown, findings: ScalarFinding[]): unknown {
  if (!findings.length) return value;
  const copy = structuredClone(value) as Record<string | number, unknown>;
  for (const finding of findings) {
    let node: unknown = copy;
    for (const segment of finding.path.slice(0, -1))
      node = (node as Record<string | number, unknown> | undefined)?.[segment];
    if (node && typeof node === 'object')
      (node as Record<string | number, unknown>)[finding.path[finding.path.length - 1]!] = finding.theirs;
  }
  return copy;
}
