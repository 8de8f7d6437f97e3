import { resolveModel, type ModelResolution, type ResolveOptions } from '../models';
import type { HubVerdict } from '../models/types';
import { resolveModelWithHub, type HubOptions } from '../models/hub';
import type { TrainingPlan } from '../plan/types';

export interface AnalysisModel {
  model: ModelResolution;
  /** The Hub lookup in flight (the caller analyses again when it settles). */
  pending?: Promise<unknown>;
}

/**
 * The plan's model: a local folder, the HF cache, the catalog; with `hub` (the `loraLens.hub` setting on) a Hub id
 * found nowhere else is looked up on the Hub in the background, never blocking. A failure says why the model
 * cannot be resolved and what to do.
 */
export function resolveModelForAnalysis(
  plan: TrainingPlan,
  options: ResolveOptions,
  hub: HubOptions | undefined,
): AnalysisModel {
  if (!hub) return { model: withHubVerdict(resolveModel(plan.model, options), 'not-asked') };
  const lookup = resolveModelWithHub(plan.model, { ...options, ...hub, env: hub.env ?? options.env });
  const name = plan.model.name_or_path.trim();
  switch (lookup.status) {
    case 'pending': {
      const local = resolveModel(plan.model, options);
      const message = local.ok
        ? ''
        : `${local.message}. Its config.json is being fetched from the Hugging Face Hub; the checks that need it follow when it arrives`;
      return { model: local.ok ? local : { ok: false, message, hub: 'pending' }, pending: lookup.promise };
    }
    case 'off':
      return {
        model: lookup.result.ok
          ? lookup.result
          : {
              ok: false,
              message: `${lookup.result.message} (the Hugging Face Hub was not asked: ${lookup.message})`,
              hub: 'not-asked',
            },
      };
    case 'resolved': {
      const result = lookup.result;
      if (result.ok) return { model: result };
      const local = resolveModel(plan.model, options);
      if (local.ok) return { model: local };
      const verdict: HubVerdict = !('reason' in result)
        ? 'not-asked'
        : result.reason === 'not-found'
          ? 'not-found'
          : result.reason === 'gated' || result.reason === 'unsupported'
            ? 'exists'
            : 'unreachable';
      return {
        model: {
          ok: false,
          message:
            'reason' in result
              ? `model "${name}": found in no local folder, the HF cache or the catalog, and the Hub lookup failed: ${result.message}`
              : result.message,
          hub: verdict,
        },
      };
    }
  }
}

/** A local failure with what the Hub said (or that it was not asked); a success as it is. */
function withHubVerdict(model: ModelResolution, hub: HubVerdict): ModelResolution {
  return model.ok ? model : { ...model, hub };
}
