import type { Diagnostic } from 'vscode-languageserver-types';
import { rangeOf } from '../document/configDocument';
import { makeDiagnostic, type Severity } from '../document/diagnostics';
import { closestMatch } from '../text/suggest';
import { alphaRatio } from './alphaRatio';
import { chatTemplate } from './chatTemplate';
import { dataset } from './dataset';
import { dataImbalance } from './dataImbalance';
import { dataInjection } from './dataInjection';
import { dataPersonal } from './dataPersonal';
import { dataSecrets } from './dataSecrets';
import { dpoBeta } from './dpoBeta';
import { distributedOneGpu } from './distributedOneGpu';
import { dpoLearningRate } from './dpoLearningRate';
import { ktoBeta } from './ktoBeta';
import { ktoLearningRate } from './ktoLearningRate';
import { ktoWeights } from './ktoWeights';
import { effectiveBatch } from './effectiveBatch';
import { epochsOverfit } from './epochsOverfit';
import { evalSteps } from './evalSteps';
import { gpuUnknown } from './gpuUnknown';
import { gradClip } from './gradClip';
import { gradientCheckpointing } from './gradientCheckpointing';
import { initFrom } from './initFrom';
import { lrRange } from './lrRange';
import { maxLength } from './maxLength';
import { memoryNoFit } from './memoryNoFit';
import { merge } from './merge';
import { modelUnknown } from './modelUnknown';
import { orpoBeta } from './orpoBeta';
import { orpoLearningRate } from './orpoLearningRate';
import { outputDir } from './outputDir';
import { packingAttention } from './packingAttention';
import { precisionGpu } from './precisionGpu';
import { qloraSetup } from './qloraSetup';
import { rankVsData } from './rankVsData';
import { scheduler } from './scheduler';
import { simpoBeta } from './simpoBeta';
import { simpoGamma } from './simpoGamma';
import { simpoLearningRate } from './simpoLearningRate';
import { smallData } from './smallData';
import { suppressedLines, suppressionDirectives } from './suppression';
import { toDialectFinding } from './dialectFindings';
import { keysNamed, renderKeyNames } from './keyNames';
import { targetModules } from './targetModules';
import { trainerRefusal } from './trainerRefusal';
import { trustRemoteCode } from './trustRemoteCode';
import type { Finding, Rule, RuleDiagnosticData, RuleInput, RuleSeverity } from './types';
import { isUnplaced, withPlanSources } from './util';
import { warmup } from './warmup';
import { windows } from './windows';

export type { GpuFacts, Rule, RuleDiagnosticData, RuleInput, RuleSeverity } from './types';

/** Every pitfall rule, in the order their diagnostics are reported (docs/rules.md follows it). */
export const RULES: readonly Rule[] = [
  lrRange,
  rankVsData,
  alphaRatio,
  targetModules,
  effectiveBatch,
  epochsOverfit,
  warmup,
  scheduler,
  gradClip,
  qloraSetup,
  precisionGpu,
  chatTemplate,
  maxLength,
  smallData,
  windows,
  merge,
  trustRemoteCode,
  outputDir,
  dataset,
  modelUnknown,
  packingAttention,
  evalSteps,
  gradientCheckpointing,
  gpuUnknown,
  memoryNoFit,
  trainerRefusal,
  distributedOneGpu,
  dataInjection,
  dataSecrets,
  dataPersonal,
  dataImbalance,
  dpoBeta,
  dpoLearningRate,
  orpoBeta,
  orpoLearningRate,
  simpoBeta,
  simpoGamma,
  simpoLearningRate,
  ktoBeta,
  ktoLearningRate,
  ktoWeights,
  initFrom,
];

const SEVERITIES: readonly RuleSeverity[] = ['error', 'warning', 'info', 'hint', 'off'];

/**
 * The severity overrides of a `loraLens.rules` setting value, ignoring invalid severities. Ids are kept when they
 * look like rule ids, not only this registry's: diagnostics from elsewhere (e.g. `memory-no-fit`) share the setting.
 */
export function parseRuleSettings(value: unknown): Record<string, RuleSeverity> {
  const overrides: Record<string, RuleSeverity> = {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return overrides;
  for (const [id, severity] of Object.entries(value)) {
    if (/^[a-z0-9]+(-[a-z0-9]+)*$/.test(id) && SEVERITIES.includes(severity as RuleSeverity))
      overrides[id] = severity as RuleSeverity;
  }
  return overrides;
}

/**
 * Runs every rule on a config and its plan. Each diagnostic has the rule id as `code` and
 * `data: { rule, fixes: QuickFix[], ... }`. Severity overrides apply per rule (`off` skips it); a
 * `# lora-lens-disable-next-line [ids]` comment drops the next line's diagnostics. A rule that throws is skipped,
 * so one bug does not take every diagnostic with it. With `input.dialect` the findings are said in that dialect
 * (see dialectFindings.ts). The plan paths a finding names are listed in `data.keys`.
 */
export function checkRules(input: RuleInput): Diagnostic[] {
  return withPlanSources(input.doc, input.dialect?.sources, () => runRules(input));
}

function runRules(input: RuleInput): Diagnostic[] {
  const suppressed = suppressedLines(input.doc.text);
  const diagnostics: Diagnostic[] = unknownSuppressedIds(input);
  for (const rule of RULES) {
    const override = input.severityOverrides?.[rule.id];
    if (override === 'off') continue;
    let findings;
    try {
      findings = rule.check(input);
    } catch {
      continue;
    }
    for (const found of findings) {
      if (isUnplaced(found.range)) continue;
      const finding = input.dialect
        ? toDialectFinding(rule.id, found, input.dialect, override ?? found.severity ?? rule.severity)
        : ourFinding(found);
      const ids = suppressed.get(finding.range.start.line);
      if (ids && (ids.size === 0 || ids.has(rule.id))) continue;
      const severity: Severity = override ?? finding.severity ?? rule.severity;
      const keys = keysNamed([found.message, ...(found.fixes ?? []).map((f) => f.title)].join('\n'));
      const data: RuleDiagnosticData = {
        ...finding.data,
        rule: rule.id,
        fixes: finding.fixes ?? [],
        ...(keys.length > 0 ? { keys } : {}),
      };
      diagnostics.push(makeDiagnostic(finding.range, severity, rule.id, finding.message, data));
    }
  }
  return diagnostics;
}

/** A finding on our own dialect: the keys it names spelled as our configs write them. */
function ourFinding(finding: Finding): Finding {
  const fixes = finding.fixes?.map((f) => ({ ...f, title: renderKeyNames(f.title) }));
  return { ...finding, message: renderKeyNames(finding.message), ...(fixes ? { fixes } : {}) };
}

/** The code of the warning on a `# lora-lens-disable-next-line` id that names no rule. */
export const UNKNOWN_RULE_ID = 'unknown-rule-id';

/** A suppression comment naming an id no rule has silences nothing: say so, with the closest rule id. */
function unknownSuppressedIds(input: RuleInput): Diagnostic[] {
  const known = RULES.map((rule) => rule.id);
  const diagnostics: Diagnostic[] = [];
  for (const directive of suppressionDirectives(input.doc.text)) {
    for (const { id, start, end } of directive.ids) {
      if (known.includes(id)) continue;
      const suggestion = closestMatch(id, known);
      const lineStart = input.doc.lineStarts[directive.line] ?? 0;
      const range = rangeOf(input.doc.lineStarts, input.doc.text.length, lineStart + start, lineStart + end);
      const message = `\`${id}\` is not a LoRA Lens rule id, so this comment suppresses nothing for it.${suggestion ? ` Did you mean \`${suggestion}\`?` : ' The ids are listed in docs/rules.md.'}`;
      diagnostics.push(
        makeDiagnostic(range, 'warning', UNKNOWN_RULE_ID, message, {
          rule: UNKNOWN_RULE_ID,
          fixes: [],
          ...(suggestion ? { suggestion } : {}),
        }),
      );
    }
  }
  return diagnostics;
}
