/**
 * Whether the bundled trainer may fetch its model from the Hugging Face Hub (trainer/lora_lens_trainer/model_fetch.py),
 * and the pre-flight refusal when it may not and the model is not on disk. The Hub is allowed unless the user turned
 * it off (`lora-lens run --offline`, `loraLens.hub: false`, or HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE in the
 * environment). The trainer itself still starts with HF_HUB_OFFLINE=1 (buildTrainerEnv): only its download lifts it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { hubCacheDir } from '../core/models/resolve';

/** The variable that lets the trainer download (model_fetch.ALLOW_ENV). */
export const MODEL_DOWNLOAD_ENV = 'LORA_LENS_MODEL_DOWNLOAD';

const truthy = (value: string | undefined) => ['1', 'on', 'yes', 'true'].includes((value ?? '').trim().toLowerCase());

export function hubAllowed(hub: boolean | undefined, env: NodeJS.ProcessEnv): boolean {
  return hub !== false && !truthy(env.HF_HUB_OFFLINE) && !truthy(env.TRANSFORMERS_OFFLINE);
}

/** The environment a launch starts from, with the trainer's permission to download when the Hub is allowed. */
export function withModelDownload(env: NodeJS.ProcessEnv, hub: boolean | undefined): NodeJS.ProcessEnv {
  const { [MODEL_DOWNLOAD_ENV]: _dropped, ...rest } = env;
  return hubAllowed(hub, env) ? { ...rest, [MODEL_DOWNLOAD_ENV]: '1' } : rest;
}

/** The command that downloads a Hub model into the cache the trainer reads. */
export function downloadCommand(repoId: string): string {
  return `hf download ${repoId}`;
}

interface ModelRef {
  name_or_path: string;
  revision?: string | null;
}

/**
 * Why a new run cannot start with the Hub turned off (`hub: false`: --offline, loraLens.hub off): a Hub model whose
 * config and weights are not in the cache. Null otherwise: with HF_HUB_OFFLINE alone the run starts without leave to
 * download and the trainer's model error names the same command (model_fetch.offline_message).
 */
export function offlineModelProblem(
  model: ModelRef,
  hub: boolean | undefined,
  env: NodeJS.ProcessEnv,
  cwd: string,
): string | null {
  const name = model.name_or_path.trim();
  if (hub !== false || !/^[\w.-]+\/[\w.-]+$/.test(name) || name.startsWith('.')) return null;
  if (existsSync(join(isAbsolute(name) ? name : resolve(cwd, name), 'config.json'))) return null;
  if (cachedModelComplete(name, model.revision ?? null, env)) return null;
  return (
    `model ${name} is not on disk (no config.json and weights in ${hubCacheDir(env)}) and the Hugging Face Hub is off ` +
    `for this run (--offline; in the editor, loraLens.hub). Download it once with \`${downloadCommand(name)}\` (older huggingface_hub: \`huggingface-cli download ${name}\`), ` +
    'or allow the Hub so the run fetches it, or point model at a local directory.'
  );
}

/** A snapshot of the revision in the Hub cache with config.json and every weight file its index names. */
export function cachedModelComplete(repoId: string, revision: string | null, env: NodeJS.ProcessEnv): boolean {
  const repoDir = join(hubCacheDir(env), `models--${repoId.replace('/', '--')}`);
  const ref = revision ?? 'main';
  let commit = /^[0-9a-f]{40}$/.test(ref) ? ref : null;
  try {
    commit ??= readFileSync(join(repoDir, 'refs', ref), 'utf8').trim();
  } catch {
    return false;
  }
  const snapshot = join(repoDir, 'snapshots', commit);
  return existsSync(join(snapshot, 'config.json')) && weightsComplete(snapshot);
}

function weightsComplete(folder: string): boolean {
  for (const index of ['model.safetensors.index.json', 'pytorch_model.bin.index.json']) {
    if (!existsSync(join(folder, index))) continue;
    try {
      const map =
        (JSON.parse(readFileSync(join(folder, index), 'utf8')) as { weight_map?: Record<string, string> }).weight_map ??
        {};
      const shards = [...new Set(Object.values(map))];
      return shards.length > 0 && shards.every((shard) => existsSync(join(folder, shard)));
    } catch {
      return false;
    }
  }
  return existsSync(join(folder, 'model.safetensors')) || existsSync(join(folder, 'pytorch_model.bin'));
}
