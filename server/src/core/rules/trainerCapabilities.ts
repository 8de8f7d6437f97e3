import capabilitiesJson from '../../../../schemas/trainer-capabilities.json';
import type { TrainingPlan } from '../plan/types';
import type { RuleInput } from './types';

/** What a named template does with a system turn (schemas/trainer-capabilities.schema.json). */
export type SystemRole = 'native' | 'default' | 'folded' | 'refused';

export interface NamedTemplateCapability {
  source: string;
  families: string[];
  generic: boolean;
  system_role: SystemRole;
  alternating: boolean;
}

/** A plan combination the bundled trainer refuses at start: every `when` path holds one of its values. */
export interface TrainerRefusal {
  id: string;
  when: Record<string, unknown[]>;
  unless_installed?: string;
  message: string;
  fix: Record<string, unknown>;
}

export interface TrainerCapabilities {
  chat_templates: Record<string, NamedTemplateCapability>;
  methods: string[];
  precision: string[];
  data_formats: string[];
  objectives: string[];
  distributed: string[];
  lora: {
    bias: string[];
    use_dora: boolean[];
    use_rslora: boolean[];
    target_modules: { untargetable: string[]; output_head_names: string[]; embedding_names: string[] };
  };
  refusals: TrainerRefusal[];
}

/**
 * schemas/trainer-capabilities.json: what the bundled trainer renders and refuses. The trainer's tests check the
 * file against its code (trainer/tests/test_capabilities.py), so rules that read it never accept what it refuses.
 */
export const TRAINER_CAPABILITIES = capabilitiesJson as unknown as TrainerCapabilities;

/**
 * Whether the config runs on the bundled trainer: every config of our dialect does (`engine` only picks what the
 * estimate models); an axolotl or LLaMA-Factory config runs on that tool.
 */
export function runsOnBundledTrainer(input: Pick<RuleInput, 'dialect'>): boolean {
  return input.dialect === undefined;
}

/** The plan's value at a dotted path ('lora.use_dora'). */
export function planValue(plan: TrainingPlan, path: string): unknown {
  let value: unknown = plan;
  for (const part of path.split('.'))
    value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  return value;
}

/** The refusals of the capabilities file that apply to this plan. */
export function refusalsFor(
  plan: TrainingPlan,
  capabilities: TrainerCapabilities = TRAINER_CAPABILITIES,
): TrainerRefusal[] {
  return capabilities.refusals.filter((r) =>
    Object.entries(r.when).every(([path, values]) => values.includes(planValue(plan, path))),
  );
}
