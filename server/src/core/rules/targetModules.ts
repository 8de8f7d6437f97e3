import type { ModelSpec } from '../models/types';
import {
  loraParameters,
  moduleNameOf,
  NON_DECODER_MODULES,
  patternSelection,
  targetMatcher,
  targetModuleNames,
  targetPatternProblem,
  unknownTargets,
} from '../models';
import type { Engine } from '../plan/types';
import type { ConfigDocument } from '../document/configDocument';
import type { Finding, Rule } from './types';
import { anchor, fix, has, key, set, setFix } from './util';
import { runsOnBundledTrainer } from './trainerCapabilities';

/** Attention projections across the common families (fused or not). */
const ATTENTION = new Set([
  'q_proj',
  'k_proj',
  'v_proj',
  'o_proj',
  'qkv_proj',
  'c_attn',
  'query_key_value',
  'Wqkv',
  'out_proj',
  'query',
  'key',
  'value',
  'dense',
]);
/** Said when an unknown entry is a dotted path: how PEFT matches it (its check_target_module_exists). */
const DOTTED_RULE =
  " (PEFT matches an entry to a module's full name, such as `model.layers.0.self_attn.q_proj`, or to its end after a dot)";
/** Names listed in a message or a fix title before "…and N more". */
const MAX_LISTED = 8;

/** `a`, `b`, `c` …and 12 more: the first names of a list, each formatted. */
function listed(names: readonly string[], format: (name: string) => string = (n) => n): string {
  const shown = names.slice(0, MAX_LISTED).map(format).join(', ');
  return names.length > MAX_LISTED ? `${shown} …and ${names.length - MAX_LISTED} more` : shown;
}

const PATH = ['lora', 'target_modules'];

export const targetModules: Rule = {
  id: 'target-modules',
  severity: 'warning',
  summary: '`target_modules` missing, attention-only, or naming (or matching) no module the model has (error).',
  check({ doc, plan, model, dialect }) {
    if (!plan.lora) return [];
    if (!has(doc, PATH)) {
      return [
        {
          range: anchor(doc, PATH),
          severity: 'info',
          message: `\`${key('lora.target_modules')}\` is not set: LoRA Lens adapts every linear layer (\`all-linear\`), but PEFT on its own would adapt only the attention projections (or stop, for models it does not know). Write \`target_modules: all-linear\` so the config means the same everywhere.`,
          fixes: [setFix(PATH, 'all-linear')],
        },
      ];
    }
    const targets = plan.lora.target_modules;
    if (targets === 'all-linear') return [];
    const spec = model?.ok ? model.spec : undefined;
    if (typeof targets === 'string') return checkPattern(doc, targets, spec, plan.engine);
    const fused = spec && runsOnBundledTrainer({ dialect }) ? fusedExpertFinding(doc, targets, spec) : null;
    return fused ? [fused] : checkList(doc, targets, spec, plan.engine);
  },
};

/**
 * Entries that name only weights transformers 5 keeps as parameters (an MoE model's routed experts, Mixtral's
 * router: `w1`, `gate`): the bundled trainer adapts linear layers only, so they adapt nothing there; with no other
 * entry it refuses the run ("matched no linear layer of this model"). PEFT, under the tools, maps them onto the
 * experts instead (core/models/peftMoe.ts).
 */
function fusedExpertFinding(doc: ConfigDocument, targets: string[], spec: ModelSpec): Finding | null {
  if (spec.numExperts <= 0) return null;
  const fused = targets.filter(
    (t) =>
      unknownTargets(spec, [t]).length === 0 &&
      loraParameters(spec, [t], 1) === 0 &&
      !NON_DECODER_MODULES.some((name) => targetMatcher([t])(name)),
  );
  if (fused.length === 0) return null;
  const kept = targets.filter((t) => !fused.includes(t));
  const names = listed(fused, (n) => `\`${n}\``);
  return {
    range: anchor(doc, [...PATH, targets.indexOf(fused[0]!)]),
    severity: kept.length === 0 ? 'error' : 'warning',
    message: `${names} ${fused.length === 1 ? 'names' : 'name'} ${spec.id}'s routed experts or router, which transformers 5 keeps as fused parameters, not linear layers: the bundled trainer adapts linear layers only, so ${kept.length === 0 ? 'it stops ("matched no linear layer of this model")' : `${fused.length === 1 ? 'it adapts' : 'they adapt'} nothing`}. Adapt the attention and shared layers (\`all-linear\`), or train the experts with a tool that runs PEFT (axolotl, LLaMA-Factory, TRL).`,
    fixes: kept.length > 0 ? [fix(`Remove ${listed(fused)}`, [set(PATH, kept)])] : [setFix(PATH, 'all-linear')],
    data: { fused: fused.slice(0, MAX_LISTED) },
  };
}

function checkList(doc: ConfigDocument, targets: string[], spec: ModelSpec | undefined, engine: Engine): Finding[] {
  if (spec) {
    const valid = targetModuleNames(spec);
    // PEFT's rule on the model's full module names (exact, or ending in "." + the entry), as the trainer applies it.
    const unknownSet = new Set(unknownTargets(spec, targets));
    const isUnknown = (name: string) => unknownSet.has(name);
    const unknown = targets.filter(isUnknown);
    if (unknown.length > 0) {
      const kept = targets.filter((name) => !isUnknown(name));
      const consequence =
        kept.length === 0
          ? 'PEFT stops with "Target modules ... not found in the base model"'
          : 'PEFT adapts the other entries and silently drops it';
      return [
        {
          range: anchor(doc, [...PATH, targets.findIndex(isUnknown)]),
          severity: 'error',
          message: `${listed(unknown, (n) => `\`${n}\``)} ${unknown.length === 1 ? 'is not a module' : 'are not modules'} of ${spec.id} (${spec.family})${unknown.some((n) => n.includes('.')) ? DOTTED_RULE : ''}: ${consequence}. Valid names: ${valid.join(', ')}.`,
          fixes: [
            setFix(PATH, 'all-linear'),
            fix(`Use ${valid.join(', ')}`, [set(PATH, valid)]),
            ...(kept.length > 0 ? [fix(`Remove ${listed(unknown)}`, [set(PATH, kept)])] : []),
          ],
          data: { unknown: unknown.slice(0, MAX_LISTED), unknownCount: unknown.length, valid },
        },
      ];
    }
  }
  const findings: Finding[] = [];
  // The bundled trainer adapts decoder linears only: its fused loss reads the head's own weight (PEFT adapts both).
  const outside = NON_DECODER_MODULES.filter((name) => targetMatcher(targets)(name));
  if (engine === 'lora-lens' && outside.length > 0) {
    const selectsOutside = (t: string) => outside.some((name) => targetMatcher([t])(name));
    const kept = targets.filter((t) => !selectsOutside(t));
    findings.push({
      ...outsideFinding(doc, outside, Math.max(0, targets.findIndex(selectsOutside))),
      fixes:
        kept.length > 0
          ? [fix(`Remove ${listed(targets.filter((t) => !kept.includes(t)))}`, [set(PATH, kept)])]
          : [setFix(PATH, 'all-linear')],
    });
  }
  // Attention-only: every target is an attention projection (by the model's names when known).
  const attention = spec ? new Set(targetModuleNames(spec).filter((n) => ATTENTION.has(n))) : ATTENTION;
  if (targets.length > 0 && targets.every((name) => attention.has(moduleNameOf(name))))
    findings.push(attentionOnlyFinding(doc, targets));
  return findings;
}

/**
 * A string target: PEFT's `re.fullmatch` over every full module name, checked on the model's names (the same rule
 * the estimate counts adapters by, and the trainer applies). Without a resolved model nothing can be said.
 */
function checkPattern(doc: ConfigDocument, pattern: string, spec: ModelSpec | undefined, engine: Engine): Finding[] {
  try {
    new RegExp(pattern);
  } catch (error) {
    return [
      {
        range: anchor(doc, PATH),
        severity: 'warning',
        message: `\`${pattern}\` is not a regular expression LoRA Lens can read (${(error as Error).message.replace(/^Invalid regular expression: /, '')}), so its matches are not checked and the estimate counts no adapter. Python's \`re\`, which PEFT and the trainer use, stops on it unless it is Python-only syntax.`,
        fixes: [setFix(PATH, 'all-linear')],
      },
    ];
  }
  const problem = targetPatternProblem(pattern);
  if (problem !== undefined) {
    return [
      {
        range: anchor(doc, PATH),
        severity: 'warning',
        message: `\`${pattern}\` is not checked: ${problem} Until then its matches are not checked and the estimate counts no adapter.`,
        fixes: [setFix(PATH, 'all-linear')],
        data: { unchecked: pattern },
      },
    ];
  }
  if (!spec) return [];
  const { modules, outside } = patternSelection(spec, pattern);
  if (modules.length === 0 && outside.length === 0) {
    const asName = /^[\w.]+$/.test(pattern);
    return [
      {
        range: anchor(doc, PATH),
        severity: 'error',
        message: `\`${pattern}\` is a regular expression that must match a module's whole full name (such as \`model.layers.0.self_attn.q_proj\`), and it matches no module of ${spec.id} (${spec.family}): PEFT stops with "Target modules ... not found in the base model".${asName ? ` To select the modules whose names end in \`${pattern}\`, write a list: \`[${pattern}]\`.` : ''}`,
        fixes: [
          ...(asName ? [fix(`Write as a list: \`[${pattern}]\``, [set(PATH, [pattern])], true)] : []),
          setFix(PATH, 'all-linear', !asName),
        ],
      },
    ];
  }
  const findings: Finding[] = [];
  if (engine === 'lora-lens' && outside.length > 0)
    findings.push({ ...outsideFinding(doc, outside, null), fixes: [setFix(PATH, 'all-linear')] });
  const names = [...new Set(modules)];
  if (names.length > 0 && names.every((name) => ATTENTION.has(name))) findings.push(attentionOnlyFinding(doc, names));
  return findings;
}

function outsideFinding(doc: ConfigDocument, outside: readonly string[], index: number | null): Omit<Finding, 'fixes'> {
  const one = outside.length === 1;
  return {
    range: anchor(doc, index === null ? PATH : [...PATH, index]),
    severity: 'error',
    message: `${listed(outside, (n) => `\`${n}\``)} ${one ? 'is not a decoder linear layer' : 'are not decoder linear layers'}: the bundled trainer refuses adapters there at start (its fused loss reads the output head's own weight); PEFT (through axolotl or LLaMA-Factory) would adapt ${one ? 'it' : 'them'}. ${index === null ? 'Narrow the pattern' : `Remove ${one ? 'it' : 'them'}`} to train here.`,
    data: { outside },
  };
}

function attentionOnlyFinding(doc: ConfigDocument, targets: readonly string[]): Finding {
  return {
    range: anchor(doc, PATH),
    message: `Adapters on attention projections only (${listed(targets)}): for generation tasks this under-fits; the QLoRA paper found adapters on every linear layer (the MLP too) necessary to match full fine-tuning. Use \`all-linear\`.`,
    fixes: [setFix(PATH, 'all-linear')],
    data: { targets: targets.slice(0, MAX_LISTED), targetCount: targets.length },
  };
}
